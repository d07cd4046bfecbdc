package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// readEvent decodes events/<name> strictly: a field the aws-lambda-go type
// does not know is an error, so the sample stays shaped like API Gateway's.
func readEvent(t *testing.T, name string, dst any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
}

func TestLogin_SampleEventsLogInTheTraceUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"login.json", "login-body.json"} {
		t.Run(name, func(t *testing.T) {
			var req events.APIGatewayV2HTTPRequest
			readEvent(t, name, &req)
			resp := e.call(t, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			var body loginResponse
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.UserID != "hong2" || body.CompanyID != "apt001" || body.Token == "" {
				t.Fatalf("body %s (%v)", resp.Body, err)
			}
		})
	}
}
