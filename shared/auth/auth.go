// Package auth issues and verifies ragchat's access tokens (JWT, HS256) and
// hashes and checks passwords (bcrypt).
//
// A token carries the claims sub (user id), companyId, role, name (display
// name), iat and exp. Verification pins the algorithm to HS256, requires
// exp, refuses tokens issued in the future, and allows a small clock skew
// (Leeway).
package auth

import (
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

// Tokens issues and verifies tokens with one HMAC secret. It is safe for
// concurrent use.
type Tokens struct {
	secret []byte
	ttl    time.Duration
}

// NewTokens returns a Tokens signing with secret; issued tokens expire ttl
// after issue. The secret is not copied and must not be modified afterwards.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	return &Tokens{secret: secret, ttl: ttl}
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
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
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
	_, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return Identity{}, time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" || c.CompanyID == "" {
		return Identity{}, time.Time{}, fmt.Errorf("%w: sub or companyId missing", ErrInvalidToken)
	}
	return Identity{UserID: c.Subject, CompanyID: c.CompanyID, Role: c.Role, Name: c.Name, Version: c.Version}, c.ExpiresAt.Time, nil
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
