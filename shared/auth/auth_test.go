package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2026, 1, 23, 5, 15, 4, 0, time.UTC)
	testID     = Identity{UserID: "hong2", CompanyID: "apt001", Role: "CUSTOMER", Name: "고객-275b"}
)

// traceToken is the forgeable base64-of-JSON "token" the old backend issued.
const traceToken = "eyJ1c2VySWQiOiJob25nMiIsInVzZXJOYW1lIjoi6rOg6rCdLTI3NWIiLCJyb2xlIjoiQ1VTVE9NRVIiLCJlbWFpbCI6ImhvbmcyQGV4YW1wbGUuY29tIiwidG9rZW4iOm51bGwsInJvb21JZCI6bnVsbCwiY29tcGFueUlkIjoiYXB0MDAxIn0="

func TestTokens_IssuedTokenVerifiesWithAllClaims(t *testing.T) {
	tk := NewTokens(testSecret, time.Hour)
	s, err := tk.Issue(testID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{testNow, testNow.Add(59 * time.Minute), testNow.Add(-Leeway / 2)} {
		got, err := tk.Verify(s, at)
		if err != nil {
			t.Fatalf("verify at %v: %v", at, err)
		}
		if got != testID {
			t.Fatalf("identity = %+v, want %+v", got, testID)
		}
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(s, &c); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sub", "companyId", "role", "name", "iat", "exp"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %q missing from %v", k, c)
		}
	}
}

func TestTokens_IssueRefusesIncompleteIdentity(t *testing.T) {
	tk := NewTokens(testSecret, time.Hour)
	for _, id := range []Identity{{CompanyID: "apt001"}, {UserID: "hong2"}} {
		if _, err := tk.Issue(id, testNow); err == nil {
			t.Errorf("Issue(%+v) succeeded", id)
		}
	}
}

// sign signs claims with the given method and key, bypassing Tokens.
func sign(t *testing.T, m jwt.SigningMethod, c jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "hong2", "companyId": "apt001", "role": "CUSTOMER", "name": "고객-275b",
		"iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(),
	}
}

func with(kv ...any) jwt.MapClaims {
	c := validClaims()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func TestTokens_VerifyRefusesForgedAndInvalidTokens(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, validClaims(), testSecret)
	parts := strings.Split(good, ".")

	tampered := func() string {
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := strings.Replace(string(payload), `"apt001"`, `"apt002"`, 1)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	}()
	// An RS256 header whose "signature" is an HMAC with the shared secret:
	// the classic algorithm-confusion forgery.
	confused := func() string {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
		sig, err := jwt.SigningMethodHS256.Sign(hdr+"."+parts[1], testSecret)
		if err != nil {
			t.Fatal(err)
		}
		return hdr + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}()
	noneTok := sign(t, jwt.SigningMethodNone, validClaims(), jwt.UnsafeAllowNoneSignatureType)

	cases := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not.a.token"},
		{"trace base64 token", traceToken},
		{"alg none", noneTok},
		{"alg none with stripped signature", strings.TrimSuffix(noneTok, ".") + "." + parts[2]},
		{"RS256 signed with a private key", sign(t, jwt.SigningMethodRS256, validClaims(), rsaKey)},
		{"RS256 header with HMAC signature", confused},
		{"HS512 with the right secret", sign(t, jwt.SigningMethodHS512, validClaims(), testSecret)},
		{"wrong key", sign(t, jwt.SigningMethodHS256, validClaims(), []byte("another-secret-of-at-least-32-bytes!"))},
		{"tampered payload", tampered},
		{"expired", sign(t, jwt.SigningMethodHS256, with("iat", testNow.Add(-3*time.Hour).Unix(), "exp", testNow.Add(-time.Hour).Unix()), testSecret)},
		{"expired beyond leeway", sign(t, jwt.SigningMethodHS256, with("exp", testNow.Add(-2*Leeway).Unix(), "iat", testNow.Add(-time.Hour).Unix()), testSecret)},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, with("iat", testNow.Add(time.Hour).Unix(), "exp", testNow.Add(2*time.Hour).Unix()), testSecret)},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, with("nbf", testNow.Add(time.Hour).Unix()), testSecret)},
		{"no exp", sign(t, jwt.SigningMethodHS256, with("exp", nil), testSecret)},
		{"no sub", sign(t, jwt.SigningMethodHS256, with("sub", nil), testSecret)},
		{"no companyId", sign(t, jwt.SigningMethodHS256, with("companyId", nil), testSecret)},
		{"companyId of wrong type", sign(t, jwt.SigningMethodHS256, with("companyId", 7), testSecret)},
		{"exp of wrong type", sign(t, jwt.SigningMethodHS256, with("exp", "tomorrow"), testSecret)},
	}
	tk := NewTokens(testSecret, time.Hour)
	if _, err := tk.Verify(good, testNow); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := tk.Verify(c.token, testNow)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", id, err)
			}
			if id != (Identity{}) {
				t.Fatalf("refused token still yielded identity %+v", id)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"  Bearer   abc  ", "abc", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"abc.def.ghi", "", false},
	}
	for _, c := range cases {
		got, ok := BearerToken(c.header)
		if got != c.want || ok != c.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", c.header, got, ok, c.want, c.ok)
		}
	}
}
