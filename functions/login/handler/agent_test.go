package handler

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// newAgentEnv is newEnv plus the agent apt001/agent1 (password 1234).
func newAgentEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	agent := store.User{CompanyID: "apt001", UserID: "agent1", UserName: "상담원-01", Email: "agent1@example.com",
		Role: store.UserRoleAgent, PasswordHash: hash1234()}
	if err := e.Store.PutUser(context.Background(), agent); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLogin_AgentLoginGivesAnAgentToken: the agent route's sample event
// (events/login-agent.json) logs agent1 in with the customer login's shape
// and a token whose role is AGENT. (Refusals of the other role:
// TestLogin_WrongRoleIsAFailure.)
func TestLogin_AgentLoginGivesAnAgentToken(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	var req events.APIGatewayV2HTTPRequest
	testkit.ReadEvent(t, "login-agent.json", &req)
	resp := e.call(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	want := []string{"userId", "userName", "role", "email", "token", "roomId", "companyId"}
	if got := testkit.KeysInOrder(t, resp.Body); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	var body loginResponse
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Role != store.UserRoleAgent || body.UserName != "상담원-01" || body.RoomID != nil {
		t.Fatalf("body = %+v", body)
	}
	id, err := testkit.Tokens().Verify(body.Token, time.Now())
	if want := (auth.Identity{UserID: "agent1", CompanyID: "apt001", Role: store.UserRoleAgent, Name: "상담원-01"}); err != nil || id != want {
		t.Fatalf("token identity = %+v, %v; want %+v", id, err, want)
	}
}
