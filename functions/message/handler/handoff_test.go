package handler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/store"
)

const (
	peerID  = "peer-customer"
	agentID = "agent-socket"
	otherID = "other-agent-socket"
)

// newHandoffEnv is newEnv plus a second socket of the customer (peerID)
// and the sockets of two agents of the company, agent1 (agentID) and
// agent2 (otherID).
func newHandoffEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, ragTrace)
	e.connect(peerID, traceRoom, true)
	now := time.Now()
	for id, agent := range map[string]string{agentID: "agent1", otherID: "agent2"} {
		if err := e.store.PutConnection(context.Background(), store.Connection{
			ConnectionID: id, RoomID: traceRoom, UserID: agent, UserName: "상담원-" + agent[len(agent)-1:], CompanyID: traceCompany,
			Role: store.UserRoleAgent, ConnectedAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(),
		}); err != nil {
			t.Fatal(err)
		}
		e.ws.Open(id)
	}
	return e
}

func handoffBody(reason string) string {
	return fmt.Sprintf(`{"action":"handoff","reason":%q}`, reason)
}

func TestHandoff_FromBotWaitsAndTellsEverySocket(t *testing.T) {
	e := newHandoffEnv(t)
	ctx := context.Background()
	e.handle(ctx, event(RouteHandoff, handoffBody("관리비 환불 문의")))

	if r := e.room(); r.Status != store.RoomStatusWaiting || r.WaitingSince == 0 {
		t.Fatalf("room after handoff: %+v", r)
	}
	h := e.history()
	if len(h) != 1 || h[0].Role != store.RoleSystem || h[0].Event != store.EventHandoffRequested || !strings.Contains(h[0].Text, "관리비 환불 문의") {
		t.Fatalf("history: %+v", h)
	}
	for _, id := range []string{callerID, peerID, agentID, otherID} {
		st := e.framesOf(id, wsclient.TypeStatus)
		if len(st) != 1 || st[0].Status != store.RoomStatusWaiting || st[0].AssignedAgent != nil ||
			st[0].MessageID != h[0].MessageID || st[0].Text != h[0].Text || st[0].Event != store.EventHandoffRequested {
			t.Errorf("%s status frames: %+v", id, st)
		}
	}
	if n := len(e.rag.bodies()); n != 0 {
		t.Errorf("the RAG service was asked %d times", n)
	}

	// Again while WAITING: only the caller hears the current status; nothing is stored.
	e.handle(ctx, event(RouteHandoff, `{"action":"handoff"}`))
	if st := e.framesOf(callerID, wsclient.TypeStatus); len(st) != 2 || st[1].Status != store.RoomStatusWaiting || st[1].MessageID != "" {
		t.Errorf("caller after a second handoff: %+v", st)
	}
	if st := e.framesOf(peerID, wsclient.TypeStatus); len(st) != 1 {
		t.Errorf("peer heard a second handoff: %+v", st)
	}
	if len(e.history()) != 1 {
		t.Errorf("a second handoff was stored")
	}
}

func TestHandoff_InAgentTellsTheHolderAndRefusesWhenClosed(t *testing.T) {
	e := newHandoffEnv(t)
	ctx := context.Background()
	if _, _, err := e.store.ClaimRoom(ctx, traceCompany, traceRoom, store.Agent{UserID: "agent1", Name: "상담원-01"}, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	e.handle(ctx, event(RouteHandoff, `{"action":"handoff"}`))
	st := e.framesOf(callerID, wsclient.TypeStatus)
	if len(st) != 1 || st[0].Status != store.RoomStatusAgent || st[0].AssignedAgent == nil || *st[0].AssignedAgent != "agent1" || st[0].AgentName != "상담원-01" {
		t.Fatalf("handoff in AGENT: %+v", st)
	}
	if _, err := e.store.CloseRoom(ctx, traceCompany, traceRoom, "agent1", time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	e.handle(ctx, event(RouteHandoff, `{"action":"handoff"}`))
	if code := e.lastError(callerID); code != CodeRoomClosed {
		t.Fatalf("handoff in CLOSED: %s", code)
	}
	if len(e.history()) != 0 {
		t.Fatalf("history: %+v", e.history())
	}
}

func TestHandoff_BadInputAndAgentsAreRefusedAndChangeNothing(t *testing.T) {
	e := newHandoffEnv(t)
	ctx := context.Background()
	for name, body := range map[string]string{
		"not JSON":           `handoff please`,
		"reason not string":  `{"action":"handoff","reason":5}`,
		"reason too long":    handoffBody(strings.Repeat("가", maxReasonRunes+1)),
		"control in reason":  handoffBody("a\x07b"),
		"trailing data":      `{"action":"handoff"} {}`,
		"invalid UTF-8 body": "{\"action\":\"handoff\",\"reason\":\"\xff\"}",
	} {
		e.handle(ctx, event(RouteHandoff, body))
		if code := e.lastError(callerID); code != CodeInvalidMessage {
			t.Errorf("%s: %s, want INVALID_MESSAGE", name, code)
		}
	}
	e.handle(ctx, eventFrom(agentID, RouteHandoff, `{"action":"handoff"}`))
	if code := e.lastError(agentID); code != CodeInvalidMessage {
		t.Errorf("an agent's handoff: %s", code)
	}
	if r := e.room(); r.Status != store.RoomStatusBot || len(e.history()) != 0 || len(e.framesOf(peerID, wsclient.TypeStatus)) != 0 {
		t.Fatalf("refused handoffs changed the room: %+v, history %d", r, len(e.history()))
	}
}

// TestRouting_WaitingAndAgentNeverAskTheRAGService drives a conversation
// through WAITING and AGENT: the RAG test server must see no request, and
// every message is stored and reaches the other sockets (not the sender)
// as a message frame byte for byte as stored.
func TestRouting_WaitingAndAgentNeverAskTheRAGService(t *testing.T) {
	e := newHandoffEnv(t)
	ctx := context.Background()
	e.handle(ctx, event(RouteHandoff, `{"action":"handoff"}`))

	// WAITING: the customer writes; an agent who has not claimed may not.
	e.handle(ctx, event(RouteSendMessage, ask("아직 기다리고 있어요")))
	e.handle(ctx, eventFrom(agentID, RouteSendMessage, ask("제가 도와드릴게요")))
	if code := e.lastError(agentID); code != CodeNotAssigned {
		t.Fatalf("unassigned agent in WAITING: %s", code)
	}

	if _, _, err := e.store.ClaimRoom(ctx, traceCompany, traceRoom, store.Agent{UserID: "agent1", Name: "상담원-1"}, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	// AGENT: the holder and the customer write; the other agent may not.
	e.handle(ctx, eventFrom(agentID, RouteSendMessage, ask("안녕하세요, 상담원입니다.\n무엇을 도와드릴까요?")))
	e.handle(ctx, eventFrom(peerID, RouteSendMessage, ask("환불은 언제 되나요?")))
	e.handle(ctx, eventFrom(otherID, RouteSendMessage, ask("끼어들기")))
	if code := e.lastError(otherID); code != CodeNotAssigned {
		t.Fatalf("other agent in AGENT: %s", code)
	}

	if n := len(e.rag.bodies()); n != 0 {
		t.Fatalf("the RAG service was asked %d times in WAITING/AGENT", n)
	}
	var stored []store.Message
	for _, m := range e.history() {
		if m.Role != store.RoleSystem {
			stored = append(stored, m)
		}
	}
	want := []struct{ role, text, name, sender string }{
		{store.RoleUser, "아직 기다리고 있어요", traceUserName, callerID},
		{store.RoleAgent, "안녕하세요, 상담원입니다.\n무엇을 도와드릴까요?", "상담원-1", agentID},
		{store.RoleUser, "환불은 언제 되나요?", traceUserName, peerID},
	}
	if len(stored) != len(want) {
		t.Fatalf("stored %d messages, want %d: %+v", len(stored), len(want), stored)
	}
	for i, w := range want {
		m := stored[i]
		if m.Role != w.role || m.Text != w.text || m.UserName != w.name {
			t.Errorf("message %d stored as %+v, want %+v", i, m, w)
		}
		for _, id := range []string{callerID, peerID, agentID, otherID} {
			var got []wsclient.Frame
			for _, f := range e.framesOf(id, wsclient.TypeMessage) {
				if f.MessageID == m.MessageID {
					got = append(got, f)
				}
			}
			if id == w.sender {
				if len(got) != 0 {
					t.Errorf("message %d echoed to its sender %s", i, id)
				}
				continue
			}
			if len(got) != 1 || got[0].Text != m.Text || got[0].Role != m.Role || got[0].UserName != m.UserName || got[0].CreatedAt != m.At {
				t.Errorf("message %d at %s: %+v, want %+v", i, id, got, m)
			}
		}
	}
}

func TestRouting_ClosedAndBotRefuse(t *testing.T) {
	e := newHandoffEnv(t)
	ctx := context.Background()
	// BOT: an agent's message is NOT_ASSIGNED, and asks nothing.
	e.handle(ctx, eventFrom(agentID, RouteSendMessage, ask("안녕하세요")))
	if code := e.lastError(agentID); code != CodeNotAssigned {
		t.Fatalf("agent in BOT: %s", code)
	}
	a := store.Agent{UserID: "agent1", Name: "상담원-1"}
	if _, _, err := e.store.ClaimRoom(ctx, traceCompany, traceRoom, a, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CloseRoom(ctx, traceCompany, traceRoom, "agent1", time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	e.handle(ctx, event(RouteSendMessage, ask("아직 있나요?")))
	e.handle(ctx, eventFrom(agentID, RouteSendMessage, ask("네")))
	for _, id := range []string{callerID, agentID} {
		if code := e.lastError(id); code != CodeRoomClosed {
			t.Errorf("%s in CLOSED: %s", id, code)
		}
	}
	if len(e.history()) != 0 || len(e.rag.bodies()) != 0 {
		t.Fatalf("refused messages were stored (%d) or asked (%d)", len(e.history()), len(e.rag.bodies()))
	}
}

// TestRouting_AnswerStreamingWhenClaimedRunsToItsEnd: a question asked in
// BOT is answered to the end although an agent claims the room while the
// answer streams.
func TestRouting_AnswerStreamingWhenClaimedRunsToItsEnd(t *testing.T) {
	e := newHandoffEnv(t)
	ctx := context.Background()
	e.rag.setMode(ragGated)
	e.h.RAG = rag.NewClient(e.rag.URL, "DEFAULT_RAG", rag.Timeouts{Connect: time.Second, FirstEvent: 5 * time.Second, Idle: 5 * time.Second}, nil)

	type handled struct {
		status int
		err    error
	}
	done := make(chan handled, 1)
	go func() {
		resp, err := e.h.Handle(ctx, event(RouteSendMessage, ask(traceQuestion)))
		done <- handled{resp.StatusCode, err}
	}()
	<-e.rag.first
	if _, _, err := e.store.ClaimRoom(ctx, traceCompany, traceRoom, store.Agent{UserID: "agent1", Name: "상담원-1"}, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	e.rag.release()
	if h := <-done; h.status != 200 || h.err != nil {
		t.Fatalf("Handle = %d, %v", h.status, h.err)
	}
	a := e.only(peerID)
	if a.Terminal.Type != wsclient.TypeComplete || a.Text != gatedFirst+gatedRest {
		t.Fatalf("answer after the claim: %s %q", a.Terminal.Type, a.Text)
	}
	h := e.history()
	if len(h) != 2 || h[1].Role != store.RoleBot || h[1].Text != gatedFirst+gatedRest || h[1].Outcome != OutcomeComplete {
		t.Fatalf("history: %+v", h)
	}
}
