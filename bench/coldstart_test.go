package bench

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestParseInitTrace_SumsClockTimePerPackage(t *testing.T) {
	stderr := []byte("init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"init github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas @1.2 ms, 1.25 ms clock, 1000 bytes, 10 allocs\n" +
		"some other line\n" +
		"init net/netip @2 ms, 0.5 ms clock, 48 bytes, 2 allocs\n")
	total, pkgs := parseInitTrace(stderr)
	if total != 1.75 || pkgs["net/netip"] != 0.5 || len(pkgs) != 3 {
		t.Errorf("total %v, packages %v", total, pkgs)
	}
	top := topInit(map[string][]float64{"a": {1, 3}, "b": {5}, "c": {0.1}}, 2)
	if !slices.Equal(top, []string{"b 5.00", "a 2.00"}) {
		t.Errorf("topInit = %q", top)
	}
}

func TestSecretMode_SwitchesTheSecretSource(t *testing.T) {
	env := map[string]string{"TOKEN_SECRET": "s", "TOKEN_SECRET_ARN": "arn:x", "USERS_TABLE": "u"}
	if got := secretMode(env, SecretEnv, "http://sm"); !slices.Equal(got, []string{"TOKEN_SECRET=s", "TOKEN_SECRET_ARN=arn:x", "USERS_TABLE=u"}) {
		t.Errorf("env mode: %q", got)
	}
	got := secretMode(env, SecretARN, "http://sm")
	want := []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://sm", "TOKEN_SECRET_ARN=arn:x", "USERS_TABLE=u"}
	if !slices.Equal(got, want) {
		t.Errorf("ARN mode: %q, want %q", got, want)
	}
}

// The fake must answer the real SDK client, as the functions call it.
func TestFakeSecrets_AnswersTheSDKsGetSecretValue(t *testing.T) {
	sm := &fakeSecrets{secret: "0123456789abcdef0123456789abcdef"}
	srv := httptest.NewServer(sm)
	defer srv.Close()
	c := secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	out, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:x")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SecretString) != sm.secret || sm.calls.Load() != 1 {
		t.Errorf("secret %q after %d calls", aws.ToString(out.SecretString), sm.calls.Load())
	}
}
