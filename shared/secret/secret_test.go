package secret

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/config"
)

const key = "0123456789abcdef0123456789abcdef-local"

// secretsManager answers GetSecretValue as Secrets Manager does, for one ARN.
func secretsManager(t *testing.T, arn, value string) aws.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct{ SecretId string }
		_ = json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || in.SecretId != arn {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"ARN": arn, "Name": "token", "SecretString": value})
	}))
	t.Cleanup(srv.Close)
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
}

func TestToken_SourcesAndLength(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf"
	awsCfg := secretsManager(t, arn, key)
	cases := []struct {
		name    string
		cfg     config.Config
		want    string
		wantErr string
	}{
		{"TOKEN_SECRET wins over the ARN", config.Config{TokenSecret: key + "!", TokenSecretARN: arn}, key + "!", ""},
		{"the ARN is fetched from Secrets Manager", config.Config{TokenSecretARN: arn}, key, ""},
		{"a short key refuses to start", config.Config{TokenSecret: "short"}, "", "need at least 32"},
		{"no key at all refuses to start", config.Config{}, "", "neither TOKEN_SECRET nor TOKEN_SECRET_ARN"},
		{"an unknown secret is an error naming it", config.Config{TokenSecretARN: arn + "x"}, "", arn + "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Token(context.Background(), c.cfg, awsCfg)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestTokens_SignsWithTheKeyAndTheConfiguredLifetime(t *testing.T) {
	tokens, err := Tokens(context.Background(), config.Config{TokenSecret: key, TokenTTL: time.Hour}, aws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := tokens.Issue(auth.Identity{UserID: "hong2", CompanyID: "apt001", Role: "CUSTOMER", Name: "고객-275b"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewTokens([]byte(key), time.Hour).Verify(tok, now); err != nil {
		t.Errorf("a token of Tokens does not verify with the same key: %v", err)
	}
	if _, err := tokens.Verify(tok, now.Add(time.Hour+time.Minute)); err == nil {
		t.Error("a token outlived TOKEN_TTL")
	}
}
