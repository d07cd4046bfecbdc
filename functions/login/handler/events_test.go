package handler

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
)

func TestLogin_SampleEventsLogInTheTraceUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"login.json", "login-body.json"} {
		t.Run(name, func(t *testing.T) {
			var req events.APIGatewayV2HTTPRequest
			testkit.ReadEvent(t, name, &req)
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
