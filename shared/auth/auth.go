// Package auth issues and verifies ragchat's access tokens (JWT, HS256) and
// hashes and checks passwords (bcrypt).
//
// A token carries the claims sub (user id), companyId, role, name (display
// name), iat and exp. Verification pins the algorithm to HS256, requires
// exp, refuses tokens issued in the future, and allows a small clock skew
// (Leeway).
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Leeway is the clock skew tolerated when checking exp, nbf and iat.
const Leeway = 30 * time.Second

// ErrInvalidToken is returned (wrapped) for every token that must be refused:
// malformed, wrongly signed, of another algorithm, expired, not yet valid or
// missing a required claim. Callers answer 401 and never show the cause.
var ErrInvalidToken = errors.New("invalid token")

// Identity is who a verified token speaks for.
type Identity struct {
	UserID    string // claim sub
	CompanyID string // claim companyId
	Role      string // claim role
	Name      string // claim name: the display name
	Version   int64  // claim ver: the user's token version when it was issued
}

// claims is the JWT payload.
type claims struct {
	CompanyID string `json:"companyId"`
	Role      string `json:"role"`
	Name      string `json:"name"`
	Version   int64  `json:"ver,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies tokens. It signs with its current key and
// names it in the header (kid: KeyID of the key); it verifies with the key
// the kid names, the current or, during a rotation, the previous one, so
// that rotating the key logs nobody out. A token without a kid (issued
// before keys had ids) is verified with the current key. It is safe for
// concurrent use.
type Tokens struct {
	secret []byte
	kid    string
	keys   map[string][]byte // kid -> key: the current and the previous
	ttl    time.Duration
}

// NewTokens returns a Tokens signing with secret; issued tokens expire ttl
// after issue. The secret is not copied and must not be modified afterwards.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	kid := KeyID(secret)
	return &Tokens{secret: secret, kid: kid, keys: map[string][]byte{kid: secret}, ttl: ttl}
}

// WithPrevious makes t also accept tokens signed with previous (the key
// before a rotation), for as long as t lives: keep it one token lifetime.
// It returns t; call it before t is used.
func (t *Tokens) WithPrevious(previous []byte) *Tokens {
	if len(previous) > 0 {
		t.keys[KeyID(previous)] = previous
	}
	return t
}

// KeyID is the kid of a signing key: the first 8 bytes of its SHA-256, in
// hex. It names the key without revealing it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// Issue returns a signed token for id, issued at now.
func (t *Tokens) Issue(id Identity, now time.Time) (string, error) {
	if id.UserID == "" || id.CompanyID == "" {
		return "", fmt.Errorf("issue token: user id and company id are required")
	}
	c := claims{
		CompanyID: id.CompanyID,
		Role:      id.Role,
		Name:      id.Name,
		Version:   id.Version,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   id.UserID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = t.kid
	s, err := tok.SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return s, nil
}

// Verify checks token as of now and returns its identity. Any failure
// returns an error wrapping ErrInvalidToken.
func (t *Tokens) Verify(token string, now time.Time) (Identity, error) {
	id, _, err := t.VerifyExpiry(token, now)
	return id, err
}

// VerifyExpiry is Verify that also returns the token's exp, for what must
// not outlive the token (a websocket connection).
func (t *Tokens) VerifyExpiry(token string, now time.Time) (Identity, time.Time, error) {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var c claims
	_, err := p.ParseWithClaims(token, &c, t.key)
	if err != nil {
		return Identity{}, time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" || c.CompanyID == "" {
		return Identity{}, time.Time{}, fmt.Errorf("%w: sub or companyId missing", ErrInvalidToken)
	}
	return Identity{UserID: c.Subject, CompanyID: c.CompanyID, Role: c.Role, Name: c.Name, Version: c.Version}, c.ExpiresAt.Time, nil
}

// key is the verification key of tok: the one its kid names, the current
// one when it has none.
func (t *Tokens) key(tok *jwt.Token) (any, error) {
	kid, present := tok.Header["kid"]
	if !present {
		return t.secret, nil
	}
	s, ok := kid.(string)
	if !ok {
		return nil, fmt.Errorf("kid is not a string")
	}
	key, ok := t.keys[s]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", s)
	}
	return key, nil
}

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>" (scheme case-insensitive). It reports false when
// the header is empty, of another scheme or carries no token.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
