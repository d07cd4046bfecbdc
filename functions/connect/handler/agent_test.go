package handler

import (
	"context"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

func TestConnect_AgentJoinsAnyRoomOfItsCompanyOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	agent := testkit.Mint(t, auth.Identity{UserID: "agent1", CompanyID: "apt001", Role: store.UserRoleAgent, Name: "상담원-01"}, now)
	for i, room := range []string{"room-0000a001", "room-0000a002"} {
		connID := []string{"conn-a", "conn-b"}[i]
		resp := e.call(t, request(connID, map[string][]string{"token": {agent}, "roomId": {room}}))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", room, resp.StatusCode, resp.Body)
		}
		c, err := e.Store.GetConnection(context.Background(), connID)
		if err != nil || c.Role != store.UserRoleAgent || c.UserID != "agent1" || c.UserName != "상담원-01" || c.RoomID != room {
			t.Fatalf("%s: connection = %+v, %v", room, c, err)
		}
	}
	// Another company's room, and a token of no known role, are refused
	// as an unknown room is.
	unknownRole := testkit.Mint(t, auth.Identity{UserID: "x", CompanyID: "apt001", Role: "ADMIN", Name: "x"}, now)
	for name, q := range map[string]map[string][]string{
		"another company's room": {"token": {agent}, "roomId": {"room-0000b001"}},
		"unknown room":           {"token": {agent}, "roomId": {"room-ffffffff"}},
		"unknown role":           {"token": {unknownRole}, "roomId": {"room-0000a001"}},
	} {
		resp := e.call(t, request("conn-x", q))
		if resp.StatusCode != 403 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeForbidden {
			t.Errorf("%s: status %d body %s; want 403", name, resp.StatusCode, resp.Body)
		}
	}
	if _, err := e.Store.GetConnection(context.Background(), "conn-x"); err == nil {
		t.Fatal("a refused connection was stored")
	}
}
