package secret

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/config"
)

func TestTokens_RotatingTheKeyLogsNobodyOut(t *testing.T) {
	const oldKey, newKey = "old-key-old-key-old-key-old-key-0001", "new-key-new-key-new-key-new-key-0002"
	ctx, now := context.Background(), time.Now()
	id := auth.Identity{UserID: "hong2", CompanyID: "apt001", Role: "CUSTOMER", Name: "고객-275b"}
	before, err := Tokens(ctx, config.Config{TokenSecret: oldKey, TokenTTL: time.Hour}, aws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// Step 1 of the rotation: {"current": new, "previous": old}, through
	// Secrets Manager as deployed.
	arn := "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:token-AbCdEf"
	during, err := Tokens(ctx, config.Config{TokenSecretARN: arn, TokenTTL: time.Hour},
		secretsManager(t, arn, `{"current":"`+newKey+`","previous":"`+oldKey+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	// Step 2, one token lifetime later: the new key alone.
	after, err := Tokens(ctx, config.Config{TokenSecret: newKey, TokenTTL: time.Hour}, aws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(tk *auth.Tokens) string {
		s, err := tk.Issue(id, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	oldToken, newToken := issue(before), issue(during)
	unkeyed := issue(auth.NewTokens([]byte(oldKey), time.Hour)) // same key: a kid; see below for none
	checks := []struct {
		name  string
		tk    *auth.Tokens
		token string
		ok    bool
	}{
		{"an old token during the rotation", during, oldToken, true},
		{"a new token during the rotation", during, newToken, true},
		{"a new token on an instance that still has the old key alone", before, newToken, false},
		{"a new token after the rotation", after, newToken, true},
		{"an old token after the rotation", after, oldToken, false},
		{"an old token of the same key before", before, unkeyed, true},
	}
	for _, c := range checks {
		got, err := c.tk.Verify(c.token, now)
		if (err == nil) != c.ok || (c.ok && got != id) {
			t.Errorf("%s: %+v, %v; want accepted %v", c.name, got, err, c.ok)
		}
	}
	if auth.KeyID([]byte(newKey)) == auth.KeyID([]byte(oldKey)) || strings.Contains(newToken, newKey) {
		t.Fatal("key ids collide or the token holds the key")
	}
}

func TestKeys_RefusesMalformedAndShortRotationValues(t *testing.T) {
	long := strings.Repeat("k", MinLen)
	for _, v := range []string{
		`{"current":"short"}`,
		`{"current":"` + long + `","previous":"short"}`,
		`{"current":`,
		`{"previous":"` + long + `"}`,
	} {
		if _, _, err := keys(context.Background(), config.Config{TokenSecret: v}, aws.Config{}); err == nil {
			t.Errorf("keys accepted %q", v)
		} else if strings.Contains(err.Error(), long) {
			t.Errorf("the error holds the key: %v", err)
		}
	}
}
