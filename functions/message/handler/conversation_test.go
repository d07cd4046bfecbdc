package handler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

func askWithID(message, clientMessageID string) string {
	return fmt.Sprintf(`{"action":"sendMessage","message":%q,"category1":"","category2":"","clientMessageId":%q}`, message, clientMessageID)
}

// The requests of an answer (the bench counts a real 4-second one): 8
// whatever the answer's length, 2 of them the abuse limits' (limits.go:
// the question token, and the answer slot given back; it is taken by the
// write that reads the room's status), with a connection that carries no
// token version (the version check is one more, revoke.go),
// plus one lookup of the room's connections per JoinInterval and one
// checkpoint per CheckpointInterval while it streams. Measured on a
// 400 ms answer with every interval divided by ten, bounded by the time
// the answer actually took (a loaded machine stretches it).
func TestHandle_DynamoDBRequestsOfAnAnswerAreEightPlusItsLookupsAndCheckpoints(t *testing.T) {
	e := newEnv(t, ragPaced)
	e.connect("peer", traceRoom, true)
	e.h.JoinInterval = DefaultJoinInterval / 10
	e.h.CheckpointInterval = DefaultCheckpointInterval / 10
	c := testkit.NewCounter(t, e.tables)
	start := time.Now()
	e.handle(context.Background(), event(RouteSendMessage, askWithID(traceQuestion, "c-budget")))
	took := time.Since(start)
	counts := c.Counts()
	lookups, writes := 0, 0
	for call, n := range counts {
		switch call.Operation {
		case "Scan":
			t.Errorf("a Scan: %v", call)
		case "Query":
			lookups += n
		case "PutItem":
			if call.Table == e.tables.Messages {
				writes += n
			}
		}
	}
	// Fixed: the connection, the user's question token, the
	// clientMessageId's claim, the room's status and activity read while
	// its answer slot is taken, the slot given back, the question, the
	// answer's first and last write.
	checkpoints := writes - 4
	fixed := counts.Total() - lookups - checkpoints
	maxLookups := 1 + int(took/e.h.JoinInterval)
	maxCheckpoints := int(took / e.h.CheckpointInterval)
	t.Logf("%d requests in %v: %d lookups (at most %d), %d answer checkpoints (at most %d): %v",
		counts.Total(), took, lookups, maxLookups, checkpoints, maxCheckpoints, counts)
	if fixed != 8 || lookups > maxLookups || lookups < 2 || checkpoints > maxCheckpoints {
		t.Errorf("%d fixed requests (want 8), %d lookups (want 2..%d), %d checkpoints (want <= %d): %v",
			fixed, lookups, maxLookups, checkpoints, maxCheckpoints, counts)
	}
	if tr := e.only("peer"); tr.Text != traceAnswer {
		t.Errorf("peer got %q", tr.Text)
	}
}

func TestHandle_QuestionReachesTheOtherSocketsAsAMessageFrameBeforeTheAnswer(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.connect("peer", traceRoom, true)
	e.handle(context.Background(), event(RouteSendMessage, askWithID("  관리비는 <언제> 내나요?\n", "c-1")))
	frames := e.ws.Frames("peer")
	if len(frames) < 2 {
		t.Fatalf("peer got %d frames", len(frames))
	}
	f, err := wsclient.Envelope(frames[0])
	if err != nil || f.Type != wsclient.TypeMessage {
		t.Fatalf("peer's first frame %s (%v): want the question's message frame", frames[0], err)
	}
	q := e.history()[0]
	if f.MessageID != q.MessageID || f.Role != store.RoleUser || f.Text != "관리비는 <언제> 내나요?" || f.UserName != traceUserName ||
		f.ClientMessageID != "c-1" || f.CreatedAt != q.At || f.SessionID != traceRoom {
		t.Errorf("message frame %s, stored question %+v", frames[0], q)
	}
	if q.UserName != traceUserName || q.ClientMessageID != "c-1" {
		t.Errorf("question stored as %+v: want its sender's name and clientMessageId", q)
	}
	for _, raw := range e.ws.Frames(callerID) {
		if f, _ := wsclient.Parse(raw); f.Type == wsclient.TypeMessage {
			t.Errorf("the sender got its own question back: %s", raw)
		}
	}
	for _, id := range []string{callerID, "peer"} {
		tr := e.only(id)
		if tr.Text != traceAnswer || tr.ClientMessageID != "c-1" || tr.Terminal.ClientMessageID != "c-1" {
			t.Errorf("%s: %q, clientMessageId %q: want the answer with the question's clientMessageId", id, tr.Text, tr.ClientMessageID)
		}
	}
}

func TestHandle_ConnectionJoiningMidAnswerGetsSeq1WithTheTextSoFar(t *testing.T) {
	e := newEnv(t, ragPaced)
	e.h.JoinInterval = 20 * time.Millisecond
	var mu sync.Mutex
	joined := false
	callerFrames := 0
	e.ws.SetHook(func(id string, _ []byte) {
		mu.Lock()
		defer mu.Unlock()
		if id == callerID {
			callerFrames++
			if callerFrames == 3 && !joined {
				joined = true
				go func() { // mid-answer
					if err := e.tryConnect("late", traceRoom, true); err != nil {
						t.Error(err)
					}
				}()
			}
		}
	})
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	late := e.only("late")
	if !joined || late.Frames[0].Seq != 1 || len(late.Frames[0].Delta) == 0 {
		t.Fatalf("late's first frame %+v: want seq 1 with the text so far", late.Frames[0])
	}
	if late.Text != traceAnswer || late.Terminal.Type != relay.TypeComplete {
		t.Errorf("late got %q ending %s, want the whole answer complete", late.Text, late.Terminal.Type)
	}
	if !strings.HasPrefix(traceAnswer, late.Frames[0].Delta) || len(late.Frames) >= len(e.only(callerID).Frames) {
		t.Errorf("late's first frame %q: want a prefix of the answer holding several deltas", late.Frames[0].Delta)
	}
	for _, raw := range e.ws.Frames("late") {
		if f, _ := wsclient.Parse(raw); f.Type == wsclient.TypeMessage {
			t.Errorf("a newcomer got the question as a message frame (it reads it from the history): %s", raw)
		}
	}
}

func TestHandle_SimultaneousRepeatsAskTheRAGServiceOnce(t *testing.T) {
	e := newEnv(t, ragPaced)
	e.connect("second", traceRoom, true)
	var wg sync.WaitGroup
	for _, id := range []string{callerID, "second", callerID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.handle(context.Background(), eventFrom(id, RouteSendMessage, askWithID(traceQuestion, "c-7f3a")))
		}()
	}
	wg.Wait()
	if n := len(e.rag.bodies()); n != 1 {
		t.Fatalf("RAG asked %d times for one clientMessageId, want 1", n)
	}
	for _, id := range []string{callerID, "second"} {
		if tr := e.only(id); tr.Text != traceAnswer || tr.ClientMessageID != "c-7f3a" {
			t.Errorf("%s got %q (clientMessageId %q)", id, tr.Text, tr.ClientMessageID)
		}
	}
	if h := e.history(); len(h) != 2 {
		t.Errorf("history %+v: want one question and one answer", h)
	}
}

func TestHandle_RepeatAfterTheEndSendsTheStoredAnswerAgainEndingAsItEnded(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode ragMode
		code string
	}{
		{"complete", ragTrace, ""},
		{"failed mid-answer", ragEOFBeforeDone, rag.CodeInterrupted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mode)
			e.handle(context.Background(), event(RouteSendMessage, askWithID(traceQuestion, "c-9")))
			e.rag.setMode(ragTrace)
			before := len(e.ws.Frames(callerID))
			c := testkit.NewCounter(t, e.tables)
			e.handle(context.Background(), event(RouteSendMessage, askWithID("다른 말로 물어도", "c-9")))
			// 3 on DynamoDB, which returns the record that failed the claim's
			// condition; 4 where the server does not (the embedded one,
			// dynalite); and the question token every sendMessage takes (two
			// updates here: the repeat comes within a refill of the question).
			if n := c.Counts().Total(); n > 6 {
				t.Errorf("a repeat cost %d DynamoDB requests, want 5 (connection, token, claim, answer) or 6: %v", n, c.Counts())
			}
			if n := len(e.rag.bodies()); n != 1 {
				t.Fatalf("RAG asked %d times, want once", n)
			}
			frames := e.ws.Frames(callerID)
			originals, err := wsclient.Check(frames[:before])
			if err != nil || len(originals) != 1 {
				t.Fatalf("%d answers (%v), want one", len(originals), err)
			}
			repeats, err := wsclient.Check(frames[before:])
			if err != nil || len(repeats) != 1 {
				t.Fatalf("%d answers to the repeat (%v), want one", len(repeats), err)
			}
			first, again := originals[0], repeats[0]
			if again.MessageID != first.MessageID || again.Frames[0].Seq != 1 || again.Text != first.Text ||
				again.Terminal.Type != first.Terminal.Type || again.Terminal.Code != tt.code || again.ClientMessageID != "c-9" {
				t.Errorf("repeat %s %q ending %+v; first %s %q ending %+v", again.MessageID, again.Text, again.Terminal, first.MessageID, first.Text, first.Terminal)
			}
			if h := e.history(); len(h) != 2 || h[1].Text != first.Text {
				t.Errorf("history %+v: the repeat stored something", h)
			}
		})
	}
}

func TestHandle_RepeatOfAQuestionWhoseFunctionDiedIsTakenOverOrEndedInterrupted(t *testing.T) {
	e := newEnv(t, ragTrace)
	ctx := context.Background()
	old := time.Now().Add(-time.Hour).UnixMilli()
	// Never answered: asked again.
	if _, _, err := e.store.ClaimRepeat(ctx, store.Repeat{RoomID: traceRoom, ClientMessageID: "c-dead", QuestionID: "m-q0", AnswerID: "m-a0", AnswerAt: old + 1, AskedAt: old}); err != nil {
		t.Fatal(err)
	}
	e.handle(ctx, event(RouteSendMessage, askWithID(traceQuestion, "c-dead")))
	if n := len(e.rag.bodies()); n != 1 || e.only(callerID).Text != traceAnswer {
		t.Fatalf("RAG asked %d times: want the dead question asked again", n)
	}
	// Stored but never answered (a message relayed to a person): not again.
	if _, _, err := e.store.ClaimRepeat(ctx, store.Repeat{RoomID: traceRoom, ClientMessageID: "c-relayed", QuestionID: "m-q9", AnswerID: "m-a9", AnswerAt: old + 1, AskedAt: old}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutMessage(ctx, store.Message{RoomID: traceRoom, At: old, MessageID: "m-q9", Role: store.RoleUser, Text: "상담원님 안녕하세요"}); err != nil {
		t.Fatal(err)
	}
	stored := len(e.history())
	e.handle(ctx, event(RouteSendMessage, askWithID("상담원님 안녕하세요", "c-relayed")))
	if n := len(e.rag.bodies()); n != 1 || len(e.history()) != stored {
		t.Fatalf("a stale repeat of a stored message: RAG asked %d times, history %d -> %d; want nothing again", n, stored, len(e.history()))
	}
	// Died mid-answer: its text again, ending RAG_STREAM_INTERRUPTED.
	if _, _, err := e.store.ClaimRepeat(ctx, store.Repeat{RoomID: traceRoom, ClientMessageID: "c-half", QuestionID: "m-q1", AnswerID: "m-a1", AnswerAt: old + 1, AskedAt: old}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutMessage(ctx, store.Message{RoomID: traceRoom, At: old + 1, MessageID: "m-a1", Role: store.RoleBot, Text: "절반", Outcome: store.OutcomeStreaming}); err != nil {
		t.Fatal(err)
	}
	before := len(e.ws.Frames(callerID))
	e.handle(ctx, event(RouteSendMessage, askWithID(traceQuestion, "c-half")))
	answers, err := wsclient.Check(e.ws.Frames(callerID)[before:])
	if err != nil || len(answers) != 1 {
		t.Fatalf("%d answers, %v", len(answers), err)
	}
	if a := answers[0]; a.MessageID != "m-a1" || a.Text != "절반" || a.Terminal.Code != rag.CodeInterrupted {
		t.Errorf("repeat of a dead answer: %s %q ending %+v", a.MessageID, a.Text, a.Terminal)
	}
	if n := len(e.rag.bodies()); n != 1 {
		t.Errorf("RAG asked %d times, want 1", n)
	}
}

// recordAnswers records the answer writes the handler makes.
type recordAnswers struct {
	*store.Store
	mu     sync.Mutex
	writes []store.Message
}

func (x *recordAnswers) PutMessage(ctx context.Context, m store.Message) error {
	if m.Role == store.RoleBot {
		x.mu.Lock()
		x.writes = append(x.writes, m)
		x.mu.Unlock()
	}
	return x.Store.PutMessage(ctx, m)
}

func TestHandle_TheAnswerItemStreamsFromItsFirstFrameIsCheckpointedAndEndsWithItsOutcome(t *testing.T) {
	e := newEnv(t, ragPaced)
	rec := &recordAnswers{Store: e.store}
	e.h.History = rec
	e.h.CheckpointInterval = pacedAnswer / 5
	var firstFrame time.Time
	var once sync.Once
	e.ws.SetHook(func(string, []byte) { once.Do(func() { firstFrame = time.Now() }) })
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	w := rec.writes
	if len(w) < 4 {
		t.Fatalf("%d answer writes, want the first, checkpoints and the ending", len(w))
	}
	last := w[len(w)-1]
	if last.Outcome != OutcomeComplete || last.Text != traceAnswer {
		t.Errorf("last write %+v, want the whole answer, complete", last)
	}
	prev := ""
	for i, m := range w[:len(w)-1] {
		if m.Outcome != store.OutcomeStreaming || m.Text == "" || !strings.HasPrefix(m.Text, prev) || m.MessageID != last.MessageID || m.At != last.At {
			t.Errorf("write %d %+v: want a growing streaming text under the answer's key", i, m)
		}
		prev = m.Text
	}
	if firstFrame.IsZero() {
		t.Fatal("no frame")
	}
	h := e.history()
	if len(h) != 2 || h[1].Text != traceAnswer || h[1].Outcome != OutcomeComplete {
		t.Errorf("history %+v", h)
	}
}

func TestHandle_RejectsBadClientMessageIDsWithoutTouchingAnything(t *testing.T) {
	for _, id := range []string{`""`, `"` + strings.Repeat("a", 65) + `"`, `"c 1"`, `"c/1"`, `"c-\u200b"`, `"한글"`, `"c-1\u0000"`, `7`, `true`, `["c-1"]`, `{"id":"c-1"}`, `"'; DROP TABLE--"`} {
		t.Run(id, func(t *testing.T) {
			e := newEnv(t, ragTrace)
			c := testkit.NewCounter(t, e.tables)
			e.handle(context.Background(), event(RouteSendMessage, `{"action":"sendMessage","message":"질문","clientMessageId":`+id+`}`))
			tr := e.only(callerID)
			if tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != CodeInvalidMessage {
				t.Errorf("terminal %+v, want INVALID_MESSAGE", tr.Terminal)
			}
			if n := c.Counts().Total(); n != 0 || len(e.rag.bodies()) != 0 {
				t.Errorf("%d DynamoDB requests, %d RAG requests: want none", n, len(e.rag.bodies()))
			}
		})
	}
	e := newEnv(t, ragTrace)
	e.handle(context.Background(), event(RouteSendMessage, `{"action":"sendMessage","message":"질문","clientMessageId":null}`))
	if tr := e.only(callerID); tr.Terminal.Type != relay.TypeComplete || tr.ClientMessageID != "" {
		t.Errorf("clientMessageId null: %+v, want an answer without clientMessageId", tr.Terminal)
	}
}

func TestHandle_ARefusalByRoomStatusCarriesTheClientMessageIDAndGivesItBack(t *testing.T) {
	e := newEnv(t, ragTrace)
	ctx := context.Background()
	now := time.Now()
	if err := e.store.PutConnection(ctx, store.Connection{ConnectionID: "agent-conn", RoomID: traceRoom, UserID: "agent1", UserName: "상담원-01",
		CompanyID: traceCompany, Role: store.UserRoleAgent, ConnectedAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix()}); err != nil {
		t.Fatal(err)
	}
	e.ws.Open("agent-conn")
	e.handle(ctx, eventFrom("agent-conn", RouteSendMessage, askWithID("안녕하세요", "c-agent-1"))) // the room is the bot's
	tr := e.only("agent-conn")
	if tr.Terminal.Code != CodeNotAssigned || tr.Terminal.ClientMessageID != "c-agent-1" {
		t.Fatalf("refusal %+v, want NOT_ASSIGNED carrying the clientMessageId", tr.Terminal)
	}
	if _, claimed, err := e.store.ClaimRepeat(ctx, store.Repeat{RoomID: traceRoom, ClientMessageID: "c-agent-1", QuestionID: "m-later"}); err != nil || !claimed {
		t.Fatalf("the refused question's clientMessageId is still held (%v, %v): a resend would be dropped", claimed, err)
	}
}
