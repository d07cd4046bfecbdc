package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	login "github.com/ragchat/ragchat/functions/login/handler"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/users"
	"github.com/ragchat/ragchat/shared/store"
)

// resetPassword gives u a new password as the operator does with
// ragchat-users (its code path, internal/users, which bumps the token
// version) and returns it.
func (hr *harness) resetPassword(t testing.TB, u user) string {
	t.Helper()
	password := "reset-" + randHex(8)
	hr.secrets.add("reset password", password)
	_, err := users.Set(context.Background(), store.New(hr.st.DB, hr.st.Tables), testkit.Passwords(),
		users.Change{CompanyID: u.CompanyID, UserID: u.UserID, Password: password}, time.Now())
	must(t, err)
	return password
}

func TestLimits_AQuestionOnASocketOpenedBeforeAPasswordResetGetsTokenExpired(t *testing.T) {
	u := h.newUser(t, "apt001")
	old := h.login(t, u)
	room := h.newRoom(t, old)
	c := h.dial(t, old, room.RoomID)
	newPassword := h.resetPassword(t, u)

	a := c.ask(t, qFee)
	if a.Terminal.Type != "error" || a.Terminal.Code != "TOKEN_EXPIRED" || a.SessionID != room.RoomID {
		t.Fatalf("a question on the socket opened before the reset ended with %s, want TOKEN_EXPIRED", redactFrame(a.Terminal))
	}
	if turns := h.rag.rag.History(room.RoomID); len(turns) != 0 {
		t.Fatalf("the RAG server was asked %d times in the room", len(turns))
	}
	if msgs := h.history(t, room.RoomID); len(msgs) != 0 {
		t.Fatalf("the room's history holds %d messages, want none", len(msgs))
	}

	r := h.tryLogin(t, u.CompanyID, u.UserID, newPassword)
	var lr login.Response
	must(t, json.Unmarshal(r.Body, &lr))
	if r.Status != http.StatusOK || lr.Token == "" {
		t.Fatalf("login with the new password: %d %s", r.Status, r.Body)
	}
	fresh := h.dial(t, lr.Token, room.RoomID)
	got := fresh.ask(t, qFee)
	h.checkAnswered(t, room.RoomID, qFee, got)
	// The old socket is still open, but its connection expired with the
	// refusal: the room's answer was not posted to it (one post: the
	// refusal). The line "answered" is logged after the answer's last post.
	h.out.waitFor(t, `"answered"`, quoted(got.MessageID))
	if n := h.st.WS.Stats().Connections[c.ID].Posts; n != 1 {
		t.Fatalf("%d @connections posts to the socket opened before the reset, want the refusal's only", n)
	}
}

// A stolen token's socket that asks nothing hears nothing of the room once
// the password is reset: not the handoff, not the agent's claim, messages
// or release, though the customer's new socket and the agent's get them.
func TestLimits_ASocketOpenedBeforeAPasswordResetHearsNothingOfTheAgent(t *testing.T) {
	u := h.newUser(t, "apt001")
	old := h.login(t, u)
	room := h.newRoom(t, old).RoomID
	stolen := h.dial(t, old, room)
	newPassword := h.resetPassword(t, u)
	r := h.tryLogin(t, u.CompanyID, u.UserID, newPassword)
	var lr login.Response
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &lr) != nil || lr.Token == "" {
		t.Fatalf("login with the new password: %d %s", r.Status, r.Body)
	}
	h.secrets.addToken("token after the reset", lr.Token)
	cur := h.dial(t, lr.Token, room)

	cur.send(t, `{"action":"handoff"}`)
	expectStatus(t, "WAITING", "", "", cur)
	ag := h.newAgent(t, "apt001")
	g := h.dial(t, ag.Token, room)
	h.transition(t, ag.Token, room, "claim")
	expectStatus(t, "AGENT", ag.UserID, ag.UserName, cur, g)
	hello := "안녕하세요, 상담원입니다."
	g.sendQuestion(t, hello)
	m := cur.nextOfType(t, "message")
	if m.Role != "agent" || m.Text != hello {
		t.Fatalf("the customer's current socket got %s, want the agent's message", m.Raw)
	}
	h.out.waitFor(t, `"message relayed"`, quoted(m.MessageID)) // logged once every post of it is done
	h.transition(t, ag.Token, room, "release")
	expectStatus(t, "BOT", "", "", cur, g)
	if n := h.st.WS.Stats().Connections[stolen.ID].Posts; n != 0 {
		t.Fatalf("%d @connections posts to the socket opened before the reset, want none", n)
	}
	onlyTyped(t, cur, g)
}
