package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokens_KidNamesTheKeyAndAnUnknownKidIsRefused(t *testing.T) {
	key := []byte("kid-test-key-kid-test-key-kid-test-01")
	tk := NewTokens(key, time.Hour)
	now := time.Now()
	s, err := tk.Issue(Identity{UserID: "u", CompanyID: "c", Role: "CUSTOMER"}, now)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(s, jwt.MapClaims{})
	if err != nil || parsed.Header["kid"] != KeyID(key) {
		t.Fatalf("header %v (%v), want kid %s", parsed.Header, err, KeyID(key))
	}
	// Signed with the right key but naming another kid: refused.
	forged := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "companyId": "c", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
	forged.Header["kid"] = "0000000000000000"
	fs, err := forged.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(fs, now); err == nil {
		t.Fatal("a token naming an unknown kid verified")
	}
	// No kid at all (issued before keys had ids): the current key.
	forged.Header = map[string]any{"alg": "HS256", "typ": "JWT"}
	ns, _ := forged.SignedString(key)
	if _, err := tk.Verify(ns, now); err != nil {
		t.Fatalf("a token without kid: %v", err)
	}
}
