package handler

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
	"github.com/ragchat/ragchat/shared/store"
)

func TestHandle_StreamsTheTraceAnswerToEveryLiveConnectionOfTheRoom(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.connect("peer", traceRoom, true)
	e.connect("other-room", "room-00000000", true)
	e.h.Relay.MinFrameInterval = time.Millisecond
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))

	if got := e.rag.bodies(); len(got) != 1 || got[0] != traceRequest {
		t.Errorf("RAG requests %q, want exactly the trace's request %q", got, traceRequest)
	}
	var answerID string
	for _, id := range []string{callerID, "peer"} {
		tr := e.only(id)
		if tr.Text != traceAnswer || tr.Terminal.Type != relay.TypeComplete || *tr.Terminal.Answer != traceAnswer {
			t.Errorf("%s got %q ending %+v, want the trace's answer complete", id, tr.Text, tr.Terminal)
		}
		if tr.Frames[0].SessionID != traceRoom {
			t.Errorf("%s: sessionId %q, want %q", id, tr.Frames[0].SessionID, traceRoom)
		}
		answerID = tr.Terminal.MessageID
	}
	if n := len(e.ws.Frames("other-room")); n != 0 {
		t.Errorf("a connection of another room got %d frames", n)
	}

	h := e.history()
	if len(h) != 2 {
		t.Fatalf("history has %d messages, want question and answer", len(h))
	}
	q, a := h[0], h[1]
	if q.Role != store.RoleUser || q.Text != traceQuestion || q.Outcome != "" {
		t.Errorf("question stored as %+v", q)
	}
	if a.Role != store.RoleBot || a.Text != traceAnswer || a.Outcome != OutcomeComplete || a.MessageID != answerID || a.At <= q.At {
		t.Errorf("answer stored as %+v, want the answer %s after the question", a, answerID)
	}
	room, err := e.store.GetRoom(context.Background(), traceRoom)
	if err != nil || room.LastActivityAt < q.At {
		t.Errorf("room lastActivityAt = %d (%v), want the question's time %d or later", room.LastActivityAt, err, q.At)
	}
}

func TestHandle_FailuresEndWithOneErrorFrameAndKeepTheHistory(t *testing.T) {
	partial := strings.Join(partialDeltas, "")
	tests := []struct {
		name    string
		mode    ragMode
		ctx     func() (context.Context, context.CancelFunc)
		code    string
		partial string
	}{
		{"RAG refuses the connection", ragRefused, nil, rag.CodeUnavailable, ""},
		{"RAG answers 500", ragStatus500, nil, rag.CodeUnavailable, ""},
		{"RAG answers a JSON body", ragJSONBody, nil, rag.CodeUnavailable, ""},
		{"RAG stalls before the first event", ragStallFirst, nil, rag.CodeTimeout, ""},
		{"RAG stalls mid-stream", ragStallMid, nil, rag.CodeTimeout, partial},
		{"RAG closes before DONE", ragEOFBeforeDone, nil, rag.CodeInterrupted, partial},
		{"the Lambda deadline arrives mid-stream", ragEndless, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, rag.CodeTimeout, "가"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mode)
			e.connect("peer", traceRoom, true)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				// Only the deadline stops the endless stream; the margin leaves
				// room for the last frames and the writes on a slow server.
				e.h.RAG = rag.NewClient(e.rag.URL, "DEFAULT_RAG", rag.Timeouts{Connect: time.Second}, nil)
				e.h.DeadlineMargin = 600 * time.Millisecond
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			e.handle(ctx, event(RouteSendMessage, ask(traceQuestion)))

			for _, id := range []string{callerID, "peer"} {
				tr := e.only(id)
				if tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != tt.code || tr.Terminal.Message == "" {
					t.Errorf("%s: terminal %+v, want error %s", id, tr.Terminal, tt.code)
				}
				if !strings.HasPrefix(tr.Text, tt.partial) {
					t.Errorf("%s received %q, want it to start with %q", id, tr.Text, tt.partial)
				}
			}
			h := e.history()
			if len(h) != 2 || h[0].Text != traceQuestion || h[1].Role != store.RoleBot {
				t.Fatalf("history %+v, want the question and the partial answer", h)
			}
			if got := e.only(callerID).Text; h[1].Outcome != tt.code || h[1].Text != got {
				t.Errorf("answer stored as %q outcome %s, want %q outcome %s (what the client received)", h[1].Text, h[1].Outcome, got, tt.code)
			}

			// The next question in the same environment works.
			e.rag.setMode(ragTrace)
			if tt.mode == ragRefused {
				e.h.RAG = rag.NewClient(newRAGServer(t, ragTrace).URL, "DEFAULT_RAG", testTimeouts, nil)
			}
			e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
			trs := e.transcripts(callerID)
			if len(trs) != 2 || trs[1].Terminal.Type != relay.TypeComplete {
				t.Errorf("the next question got %d answers, last %+v", len(trs), trs[len(trs)-1].Terminal)
			}
		})
	}
}

func TestHandle_GoneConnectionIsDeletedAndTheOthersGetTheAnswer(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.connect("left", traceRoom, false) // in the table, gone at API Gateway
	e.connect("peer", traceRoom, true)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	if _, err := e.store.GetConnection(context.Background(), "left"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("gone connection still stored: %v", err)
	}
	if n := e.ws.Posts("left"); n != 1 {
		t.Errorf("%d posts to the gone connection, want 1", n)
	}
	for _, id := range []string{callerID, "peer"} {
		if tr := e.only(id); tr.Text != traceAnswer {
			t.Errorf("%s got %q", id, tr.Text)
		}
	}
}

func TestHandle_CallerLeavingMidStreamStillStoresTheWholeAnswer(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.ws.Close(callerID)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	h := e.history()
	if len(h) != 2 || h[1].Text != traceAnswer || h[1].Outcome != OutcomeComplete {
		t.Fatalf("history %+v, want the whole answer stored", h)
	}
	if _, err := e.store.GetConnection(context.Background(), callerID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("gone caller still stored: %v", err)
	}
}

func TestHandle_RetriesThrottledAndFailingPosts(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.ws.Script(callerID, relaytest.LimitExceeded, relaytest.TooManyRequests, relaytest.InternalError, relaytest.Unavailable)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	if tr := e.only(callerID); tr.Text != traceAnswer || tr.Terminal.Type != relay.TypeComplete {
		t.Errorf("got %q ending %+v", tr.Text, tr.Terminal)
	}
}

func TestHandle_CoalescesUnderSlowPosts(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.ws.SetLatency(20 * time.Millisecond)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	tr := e.only(callerID)
	if tr.Text != traceAnswer {
		t.Fatalf("got %q", tr.Text)
	}
	if posts := e.ws.Posts(callerID); posts >= len(traceDeltas) {
		t.Errorf("%d posts for %d deltas: no coalescing", posts, len(traceDeltas))
	}
	if n := e.ws.MaxInFlight(callerID); n != 1 {
		t.Errorf("%d posts in flight at once, want 1", n)
	}
}

func TestHandle_RejectsInvalidMessagesWithoutTouchingAnything(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		route  string
		body   string
		base64 bool
		code   string
	}{
		{"malformed JSON", RouteSendMessage, `{"action":"sendMessage","message":`, false, CodeInvalidMessage},
		{"not JSON at all", RouteSendMessage, `hello`, false, CodeInvalidMessage},
		{"a JSON array", RouteSendMessage, `["sendMessage"]`, false, CodeInvalidMessage},
		{"message of the wrong type", RouteSendMessage, `{"action":"sendMessage","message":42}`, false, CodeInvalidMessage},
		{"category of the wrong type", RouteSendMessage, `{"action":"sendMessage","message":"hi","category1":{}}`, false, CodeInvalidMessage},
		{"message missing", RouteSendMessage, `{"action":"sendMessage"}`, false, CodeInvalidMessage},
		{"message null", RouteSendMessage, `{"action":"sendMessage","message":null}`, false, CodeInvalidMessage},
		{"empty message", RouteSendMessage, ask(""), false, CodeInvalidMessage},
		{"white space only", RouteSendMessage, ask(" \t\n\u3000 "), false, CodeInvalidMessage},
		{"over the limit", RouteSendMessage, ask(strings.Repeat("가", MaxMessageRunes+1)), false, CodeInvalidMessage},
		{"invalid UTF-8", RouteSendMessage, "{\"action\":\"sendMessage\",\"message\":\"\xff\xfe\"}", false, CodeInvalidMessage},
		{"control character", RouteSendMessage, ask("hi\x00there"), false, CodeInvalidMessage},
		{"escape character", RouteSendMessage, ask("\x1b[31mred"), false, CodeInvalidMessage},
		{"C1 control", RouteSendMessage, ask("a\u0085b"), false, CodeInvalidMessage},
		{"control character in a category", RouteSendMessage, `{"action":"sendMessage","message":"hi","category1":"a\nb"}`, false, CodeInvalidMessage},
		{"category over the limit", RouteSendMessage, `{"action":"sendMessage","message":"hi","category2":"` + strings.Repeat("x", 101) + `"}`, false, CodeInvalidMessage},
		{"oversized body", RouteSendMessage, ask(strings.Repeat("x", 20000)), false, CodeInvalidMessage},
		{"trailing data", RouteSendMessage, ask("hi") + `{}`, false, CodeInvalidMessage},
		{"bad base64", RouteSendMessage, "%%%", true, CodeInvalidMessage},
		{"base64 of invalid UTF-8", RouteSendMessage, b64("\xff"), true, CodeInvalidMessage},
		{"empty body", RouteSendMessage, "", false, CodeInvalidMessage},
		{"unknown action", RouteDefault, `{"action":"deleteEverything","message":"hi"}`, false, CodeUnknownAction},
		{"no action", RouteDefault, `{"message":"hi"}`, false, CodeUnknownAction},
		{"action of the wrong type", RouteDefault, `{"action":["sendMessage"]}`, false, CodeUnknownAction},
		{"action in the wrong case", RouteDefault, `{"action":"SendMessage","message":"hi"}`, false, CodeUnknownAction},
		{"not JSON on $default", RouteDefault, `ping`, false, CodeInvalidMessage},
		{"empty frame on $default", RouteDefault, ``, false, CodeInvalidMessage},
		{"invalid UTF-8 on $default", RouteDefault, "\xc0\xaf", false, CodeInvalidMessage},
		{"injection strings", RouteDefault, `{"action":"'; DROP TABLE rooms; --","message":"<script>alert(1)</script>"}`, false, CodeUnknownAction},
	}
	e := newEnv(t, ragTrace)
	var count *testkit.Counter // request counts exist on the embedded server only
	if os.Getenv(testkit.EndpointVariable) == "" {
		count = testkit.NewCounter(t, e.tables)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if count != nil {
				count.Reset()
			}
			sent := len(e.ws.Frames(callerID))
			ev := event(tt.route, tt.body)
			ev.IsBase64Encoded = tt.base64
			e.handle(context.Background(), ev)
			frames, err := wsclient.Envelopes(e.ws.Frames(callerID)[sent:])
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != 1 || frames[0].Type != relay.TypeError || frames[0].Code != tt.code || frames[0].Seq != 1 || frames[0].Message == "" {
				t.Fatalf("frames %+v, want one %s error frame", frames, tt.code)
			}
			if count != nil && count.Counts().Total() != 0 {
				t.Errorf("DynamoDB requests for a rejected message: %v", count.Counts())
			}
		})
	}
	if n := len(e.rag.bodies()); n != 0 {
		t.Errorf("%d RAG requests for rejected messages", n)
	}
	if h := e.history(); len(h) != 0 {
		t.Errorf("rejected messages stored: %+v", h)
	}
}

func TestHandle_AcceptsTheLongestMessageAndMultipleLines(t *testing.T) {
	for _, msg := range []string{strings.Repeat("가", MaxMessageRunes), "첫 줄\n둘째 줄\r\n\t셋째", "  " + traceQuestion + "\n"} {
		e := newEnv(t, ragTrace)
		e.handle(context.Background(), event(RouteSendMessage, ask(msg)))
		if tr := e.only(callerID); tr.Terminal.Type != relay.TypeComplete {
			t.Errorf("message of %d bytes: %+v", len(msg), tr.Terminal)
		}
		if h := e.history(); len(h) != 2 || h[0].Text != strings.TrimSpace(msg) {
			t.Errorf("stored question %+v", h)
		}
	}
}

func TestHandle_UnregisteredConnectionGetsAnErrorAndNoAnswer(t *testing.T) {
	e := newEnv(t, ragTrace)
	ev := eventFrom("not-stored", RouteSendMessage, ask(traceQuestion))
	e.ws.Open("not-stored")
	e.handle(context.Background(), ev)
	tr := e.only("not-stored")
	if tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != CodeInternal {
		t.Errorf("terminal %+v, want INTERNAL", tr.Terminal)
	}
	if len(e.rag.bodies()) != 0 || len(e.history()) != 0 {
		t.Error("an unregistered connection's question reached RAG or the history")
	}
}

func TestHandle_DynamoDBThrottlingEndsWithInternal(t *testing.T) {
	tests := []struct {
		name      string
		operation string
		table     func(store.Tables) string
		stored    int // messages in the history afterwards
	}{
		{"on the connection lookup", "GetItem", func(t store.Tables) string { return t.Connections }, 0},
		{"on the question write", "PutItem", func(t store.Tables) string { return t.Messages }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ragTrace, testkit.NoRetries)
			f := testkit.Throttle(t, tt.operation, tt.table(e.tables), -1)
			e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
			f.Remove()
			tr := e.only(callerID)
			if tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != CodeInternal {
				t.Errorf("terminal %+v, want INTERNAL", tr.Terminal)
			}
			if len(e.rag.bodies()) != 0 || len(e.history()) != tt.stored {
				t.Errorf("RAG asked %d times, history %+v", len(e.rag.bodies()), e.history())
			}
		})
	}
}

func TestHandle_AnswerWriteThrottledStillCompletesTheStream(t *testing.T) {
	e := newEnv(t, ragTrace, testkit.NoRetries)
	e.answerWriteThrottled(func(ev events.APIGatewayWebsocketProxyRequest) { e.handle(context.Background(), ev) })
}

// answerWriteThrottled has handle ask the trace's question while the
// messages table throttles from the answer's write on (throttleAnswers),
// and checks that the caller still got the whole answer, complete, and
// that the question alone is stored.
func (e *env) answerWriteThrottled(handle func(events.APIGatewayWebsocketProxyRequest)) {
	e.t.Helper()
	x := &throttleAnswers{Store: e.store, srv: testkit.Embedded(e.t), table: e.tables.Messages}
	e.h.History = x
	handle(event(RouteSendMessage, ask(traceQuestion)))
	x.fault.Remove()
	if x.fault.Hits() == 0 {
		e.t.Fatal("the answer's write was not throttled")
	}
	if tr := e.only(callerID); tr.Terminal.Type != relay.TypeComplete || tr.Text != traceAnswer {
		e.t.Errorf("got %q ending %+v", tr.Text, tr.Terminal)
	}
	if h := e.history(); len(h) != 1 || h[0].Role != store.RoleUser {
		e.t.Errorf("history %+v, want the question only", h)
	}
}

// throttleAnswers makes the server throttle the messages table from the
// answer's write on (the question's write passes).
type throttleAnswers struct {
	*store.Store
	srv   *dynamo.Server
	table string
	fault *dynamo.Fault
}

func (x *throttleAnswers) PutMessage(ctx context.Context, m store.Message) error {
	if m.Role == store.RoleBot && x.fault == nil {
		x.fault = x.srv.Throttle("PutItem", x.table, -1)
	}
	return x.Store.PutMessage(ctx, m)
}

func TestTruncate_CutsOnARuneBoundary(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"가나다", 9, "가나다"},
		{"가나다", 8, "가나"},
		{"가나다", 6, "가나"},
		{"가나다", 2, ""},
		{"abc", 2, "ab"},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
