package handler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// answers returns the answers id received, in arrival order, allowing the
// error frame of a refused question amid a streaming answer.
func (e *env) answers(id string) []*wsclient.Answer {
	e.t.Helper()
	var as wsclient.Answers
	for i, raw := range e.ws.Frames(id) {
		f, err := wsclient.Envelope(raw)
		if err != nil {
			e.t.Fatalf("connection %s frame %d: %v", id, i, err)
		}
		if _, err := as.Add(f); err != nil {
			e.t.Fatalf("connection %s frame %d: %v", id, i, err)
		}
	}
	return as.List()
}

// endings counts the answers by how they ended: "complete" or the code.
func endings(t *testing.T, as []*wsclient.Answer) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, a := range as {
		switch {
		case !a.Ended() || a.Duplicates != 0:
			t.Fatalf("answer %s: ended %v, %d repeated frames", a.MessageID, a.Ended(), a.Duplicates)
		case a.Terminal.Type == relay.TypeComplete:
			n[OutcomeComplete]++
		default:
			n[a.Terminal.Code]++
		}
	}
	return n
}

func TestLimits_ABurstOfQuestionsAsksAtMostTheBucketsBurst(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.h.Limits.Questions = store.Bucket{Burst: 30, Refill: 6 * time.Second}
	now := time.Now()
	e.h.Now = func() time.Time { return now } // no refill during the burst
	for range 60 {
		e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	}
	got := endings(t, e.answers(callerID))
	if got[OutcomeComplete] != 30 || got[CodeRateLimited] != 30 {
		t.Fatalf("60 questions ended %v, want 30 answers and 30 RATE_LIMITED", got)
	}
	if n := len(e.rag.bodies()); n != 30 {
		t.Fatalf("the RAG service was asked %d times, want 30", n)
	}
	if n := len(e.history()); n != 60 {
		t.Fatalf("history holds %d messages, want the 30 questions and answers only", n)
	}
	// A refill later, one more.
	now = now.Add(6 * time.Second)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	if got := endings(t, e.answers(callerID)); got[OutcomeComplete] != 31 {
		t.Fatalf("after a refill: %v, want a 31st answer", got)
	}
}

func TestLimits_ConcurrentBurstGetsOneEndingEach(t *testing.T) {
	e := newEnv(t, ragTrace)
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() { e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion))) })
	}
	wg.Wait()
	got := endings(t, e.answers(callerID))
	total := 0
	for _, n := range got {
		total += n
	}
	asked := len(e.rag.bodies())
	if total != 60 || got[OutcomeComplete] != asked || asked > 30 || asked < 1 ||
		got[CodeRateLimited] < 30 || got[OutcomeComplete]+got[CodeRateLimited]+got[CodeAnswerInProgress] != 60 {
		t.Fatalf("60 concurrent questions: endings %v, RAG asked %d times; want one ending each, at most 30 asked", got, asked)
	}
}

func TestLimits_SecondQuestionDuringAnAnswerIsRefused(t *testing.T) {
	e := newEnv(t, ragEndless)
	e.connect("peer", traceRoom, true)
	e.connect("second", traceRoom, true)
	e.h.DeadlineMargin = 300 * time.Millisecond
	started := make(chan struct{})
	var once sync.Once
	e.ws.SetHook(func(id string, frame []byte) {
		if id == callerID {
			once.Do(func() { close(started) })
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.handle(ctx, event(RouteSendMessage, ask(traceQuestion)))
	}()
	<-started
	second := eventFrom("second", RouteSendMessage, ask("두 번째 질문")) // another socket of the room
	e.handle(context.Background(), second)
	<-done

	// The second socket got the first answer (as a recipient) and the
	// refusal of its own question.
	got := endings(t, e.answers("second"))
	if got[CodeAnswerInProgress] != 1 || got[rag.CodeTimeout] != 1 || len(got) != 2 {
		t.Fatalf("second socket's answers ended %v, want the first answer's RAG_TIMEOUT and one ANSWER_IN_PROGRESS", got)
	}
	for _, a := range e.answers("second") {
		if a.Terminal.Code == CodeAnswerInProgress && (a.Terminal.SessionID != traceRoom || a.Text != "" || a.Terminal.Message == "") {
			t.Fatalf("refusal %+v, want an error frame of the room with a message and no text", a.Terminal)
		}
	}
	if n := len(e.rag.bodies()); n != 1 {
		t.Fatalf("the RAG service was asked %d times, want once", n)
	}
	for _, m := range e.history() {
		if m.Text == "두 번째 질문" {
			t.Fatalf("the refused question was stored: %+v", m)
		}
	}
	for _, a := range e.answers("peer") {
		if a.Terminal.Code == CodeAnswerInProgress {
			t.Fatal("the refusal reached another socket")
		}
	}
}

func TestLimits_AQuestionSentOnTheEndingIsNeverRefused(t *testing.T) {
	e := newEnv(t, ragTrace)
	// The client asks again the moment the first answer's ending reaches
	// it: the post of that ending is held until the second question has
	// been answered, so the first handler is still running.
	var asked atomic.Bool
	e.ws.SetHook(func(id string, frame []byte) {
		f, err := wsclient.Envelope(frame)
		if err == nil && id == callerID && f.IsComplete && asked.CompareAndSwap(false, true) {
			e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
		}
	})
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	got := endings(t, e.answers(callerID))
	if got[OutcomeComplete] != 2 {
		t.Fatalf("endings %v, want both questions answered", got)
	}
}

func TestLimits_QuestionOnAnExpiredSocketGetsTokenExpired(t *testing.T) {
	e := newEnv(t, ragTrace)
	past := time.Now().Add(-time.Second)
	if err := e.store.PutConnection(context.Background(), store.Connection{
		ConnectionID: callerID, RoomID: traceRoom, UserID: "hong2", UserName: traceUserName, CompanyID: traceCompany,
		ConnectedAt: past.Add(-time.Hour).UnixMilli(), ExpiresAt: past.Unix(),
	}); err != nil {
		t.Fatal(err)
	}
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	a := e.only(callerID)
	if a.Terminal.Code != CodeTokenExpired || a.Terminal.SessionID != traceRoom || a.Terminal.Message == "" {
		t.Fatalf("ending %+v, want TOKEN_EXPIRED", a.Terminal)
	}
	if len(e.rag.bodies()) != 0 || len(e.history()) != 0 {
		t.Fatal("a question on an expired socket was asked or stored")
	}
}

func TestParse_InvisibleAndBidiCharactersAreRefused(t *testing.T) {
	body := func(message, category, clientID string) string {
		return fmt.Sprintf(`{"action":"sendMessage","message":%q,"category1":%q,"clientMessageId":%q}`, message, category, clientID)
	}
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"plain Korean with emoji and a ZWJ sequence in the message", body("관리비 👨‍👩‍👧 문의", "", "c-1"), true},
		{"right-to-left override in the message", body("pay to \u202Egnp.exe", "", "c-1"), false},
		{"left-to-right embedding in the message", body("\u202Aabc", "", "c-1"), false},
		{"pop directional formatting in the message", body("abc\u202C", "", "c-1"), false},
		{"first strong isolate in the message", body("\u2068abc", "", "c-1"), false},
		{"pop directional isolate in the message", body("abc\u2069", "", "c-1"), false},
		{"zero-width space in a category", body("질문", "관리\u200B비", "c-1"), false},
		{"soft hyphen in a category", body("질문", "관\u00ADa", "c-1"), false},
		{"bidi isolate in a category", body("질문", "\u2066x", "c-1"), false},
		{"byte order mark in a category", body("질문", "\uFEFFx", "c-1"), false},
		{"zero-width joiner in clientMessageId", body("질문", "", "c\u200D1"), false},
		{"Korean category", body("질문", "관리비", "c-1"), true},
	}
	for _, c := range cases {
		_, rej := parseSendMessage(c.body, false)
		if (rej == nil) != c.ok || (rej != nil && (rej.Code != CodeInvalidMessage || rej.Message == "")) {
			t.Errorf("%s: rejection %+v, want accepted %v", c.name, rej, c.ok)
		}
	}
}
