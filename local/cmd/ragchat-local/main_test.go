package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragchat/ragchat/local/stack"
)

func TestParseOptions_FlagsEnvironmentAndDefaults(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env.json")
	if err := os.WriteFile(envFile, []byte(`{"Parameters":{"LOG_LEVEL":"DEBUG"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o optionsView)
		wantErr bool
	}{
		{name: "defaults are the documented ports", check: func(t *testing.T, o optionsView) {
			o.want(t, "ports", o.ports(), [4]int{3000, 3001, 8040, 8000})
			o.want(t, "RAG URL", o.RAGURL, "")
			o.want(t, "credentials", o.Credentials.AccessKeyID, "")
		}},
		{name: "environment sets ports, flags win",
			args: []string{"-http-port", "4000"},
			env:  map[string]string{"RAGCHAT_HTTP_PORT": "5000", "RAGCHAT_WS_PORT": "5001", "RAGCHAT_RAG_PORT": "0"},
			check: func(t *testing.T, o optionsView) {
				o.want(t, "ports", o.ports(), [4]int{4000, 5001, 0, 8000})
			}},
		{name: "real endpoints and secrets come from the environment",
			env: map[string]string{"RAG_URL": "http://rag.internal:8040", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4567",
				"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "TOKEN_SECRET": "s", "AWS_REGION": "ap-northeast-2"},
			check: func(t *testing.T, o optionsView) {
				o.want(t, "RAG URL", o.RAGURL, "http://rag.internal:8040")
				o.want(t, "DynamoDB endpoint", o.DynamoEndpoint, "http://127.0.0.1:4567")
				o.want(t, "access key", o.Credentials.AccessKeyID, "AKID")
				o.want(t, "token secret", o.TokenSecret, "s")
				o.want(t, "region", o.Region, "ap-northeast-2")
			}},
		{name: "host credentials stay out of an embedded DynamoDB stack",
			env: map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET"},
			check: func(t *testing.T, o optionsView) {
				o.want(t, "access key", o.Credentials.AccessKeyID, "")
			}},
		{name: "env-vars file", args: []string{"--env-vars", envFile}, check: func(t *testing.T, o optionsView) {
			o.want(t, "LOG_LEVEL", o.EnvVars["Parameters"]["LOG_LEVEL"], "DEBUG")
		}},
		{name: "dev RAG options from the environment", env: map[string]string{"RAGDEV_FAULTS": "stall-mid"},
			check: func(t *testing.T, o optionsView) {
				o.want(t, "faults", o.RAGDev.Faults.String(), "stall-mid")
			}},
		{name: "missing env-vars file", args: []string{"--env-vars", filepath.Join(t.TempDir(), "none.json")}, wantErr: true},
		{name: "port out of range", args: []string{"-ws-port", "70000"}, wantErr: true},
		{name: "bad dev RAG fault", env: map[string]string{"RAGDEV_FAULTS": "explode"}, wantErr: true},
		{name: "stray argument", args: []string{"serve"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			o, err := parseOptions(tt.args, getenv, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil {
				tt.check(t, optionsView{o})
			}
		})
	}
}

// optionsView adds assertions to parsed options.
type optionsView struct{ stack.Options }

func (o optionsView) ports() [4]int {
	return [4]int{o.HTTPPort, o.WSPort, o.RAGPort, o.DynamoPort}
}

func (optionsView) want(t *testing.T, what string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestPrintBanner_ListsTheAgentConsoleAndTheDemoAgent(t *testing.T) {
	st := &stack.Stack{URLs: stack.URLs{HTTP: "http://127.0.0.1:3000", WebSocket: "ws://127.0.0.1:3001/prod",
		Connections: "http://127.0.0.1:3001/prod/@connections", RAG: "http://127.0.0.1:8040", DynamoDB: "http://127.0.0.1:8000"}}
	var b strings.Builder
	printBanner(&b, st)
	out := b.String()
	for _, want := range []string{
		"Agent console  http://127.0.0.1:3000/agent",
		"apt001   agent1   1234   AGENT      상담원-01",
		"apt001   hong2    1234   CUSTOMER   고객-275b",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
}
