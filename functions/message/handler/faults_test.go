package handler

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
	"github.com/ragchat/ragchat/shared/store"
)

// Each test below drives one fault and asserts the four things the
// relay rules promise: the ending each socket sees, the stored answer and
// its outcome, the connections table, and that Handle returned before the
// invocation's deadline.

// handleBy runs Handle on ev with a context ending at deadline, failing
// the test unless Handle returned before it.
func (e *env) handleBy(deadline time.Time, ev events.APIGatewayWebsocketProxyRequest) {
	e.t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	e.handle(ctx, ev)
	if now := time.Now(); !now.Before(deadline) {
		e.t.Errorf("Handle returned %s after the deadline", now.Sub(deadline))
	}
}

// answerStored asserts the history holds the question and an answer with
// text and outcome.
func (e *env) answerStored(text, outcome string) {
	e.t.Helper()
	h := e.history()
	if len(h) != 2 || h[0].Text != traceQuestion || h[1].Role != store.RoleBot {
		e.t.Fatalf("history %+v, want the question and its answer", h)
	}
	if h[1].Text != text || h[1].Outcome != outcome {
		e.t.Errorf("answer stored as %d bytes outcome %s, want %d bytes (what was sent) outcome %s", len(h[1].Text), h[1].Outcome, len(text), outcome)
	}
}

// stillConnected asserts the connection's item is in the table.
func (e *env) stillConnected(id string) {
	e.t.Helper()
	if _, err := e.store.GetConnection(context.Background(), id); err != nil {
		e.t.Errorf("connection %s: %v; want its item kept", id, err)
	}
}

// hangPosts makes the posts for which hang reports true never answer
// (until the test ends).
func (e *env) hangPosts(hang func(n int32) bool) {
	release := make(chan struct{})
	e.t.Cleanup(func() { close(release) })
	var n atomic.Int32
	e.ws.SetHook(func(string, []byte) {
		if hang(n.Add(1)) {
			<-release
		}
	})
}

func TestHandle_HungPosts(t *testing.T) {
	t.Run("every post hangs: Handle ends before the deadline, the answer is stored", func(t *testing.T) {
		e := newEnv(t, ragTrace)
		e.h.Relay.PostTimeout = time.Hour // only the invocation's time bounds them
		e.h.DeadlineMargin = 600 * time.Millisecond
		e.hangPosts(func(int32) bool { return true })
		e.handleBy(time.Now().Add(1500*time.Millisecond), event(RouteSendMessage, ask(traceQuestion)))
		if n := len(e.ws.Frames(callerID)); n != 0 {
			t.Errorf("%d frames accepted from hung posts", n)
		}
		e.answerStored(traceAnswer, OutcomeComplete)
		e.stillConnected(callerID)
	})
	t.Run("the first post hangs: POST_TIMEOUT abandons it and the answer arrives", func(t *testing.T) {
		e := newEnv(t, ragTrace)
		e.h.Relay.PostTimeout = 100 * time.Millisecond
		e.hangPosts(func(n int32) bool { return n == 1 })
		e.handleBy(time.Now().Add(10*time.Second), event(RouteSendMessage, ask(traceQuestion)))
		tr := e.only(callerID)
		if tr.Text != traceAnswer || tr.Terminal.Type != relay.TypeComplete {
			t.Errorf("got %q ending %+v", tr.Text, tr.Terminal)
		}
		e.answerStored(traceAnswer, OutcomeComplete)
	})
}

func TestHandle_ThrottlingLongerThanTheOldRetryBudget(t *testing.T) {
	for _, storm := range []time.Duration{2 * time.Second, 10 * time.Second} {
		t.Run(storm.String(), func(t *testing.T) {
			if testing.Short() && storm > 5*time.Second {
				t.Skip("a 10 s storm in real time: not in -short mode (the 2 s one runs)")
			}
			t.Parallel()
			e := newEnv(t, ragTrace)
			e.connect("peer", traceRoom, true)
			e.h.Relay.Backoff = relay.Backoff{} // the deployed backoff, capped at 1 s
			e.ws.FailUntil(relaytest.LimitExceeded, time.Now().Add(storm))
			e.handleBy(time.Now().Add(storm+20*time.Second), event(RouteSendMessage, ask(traceQuestion)))
			for _, id := range []string{callerID, "peer"} {
				tr := e.only(id)
				if tr.Text != traceAnswer || tr.Terminal.Type != relay.TypeComplete || tr.Terminal.Answer == nil || *tr.Terminal.Answer != traceAnswer {
					t.Errorf("%s got %q ending %+v, want the whole answer complete, repeated in answer", id, tr.Text, tr.Terminal)
				}
			}
			e.answerStored(traceAnswer, OutcomeComplete)
			e.stillConnected(callerID)
		})
	}
	t.Run("until the margin ends", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ragTrace)
		e.h.Relay.Backoff = relay.Backoff{}
		e.h.DeadlineMargin = time.Second
		e.ws.FailUntil(relaytest.LimitExceeded, time.Now().Add(time.Hour))
		e.handleBy(time.Now().Add(2500*time.Millisecond), event(RouteSendMessage, ask(traceQuestion)))
		if n := len(e.ws.Frames(callerID)); n != 0 {
			t.Errorf("%d frames accepted during the storm", n)
		}
		if n := e.ws.Posts(callerID); n < 3 {
			t.Errorf("%d posts in 2.5 s of 429s: the relay stopped retrying", n)
		}
		e.answerStored(traceAnswer, OutcomeComplete)
		e.stillConnected(callerID)
	})
}

func TestHandle_Every403SkipsTheSocketKeepsItsItemAndLogsOneError(t *testing.T) {
	for _, reply := range []relaytest.Reply{relaytest.Forbidden, relaytest.AccessDenied, relaytest.Forbidden403} {
		t.Run(reply.ErrorType, func(t *testing.T) {
			e := newEnv(t, ragTrace)
			e.connect("peer", traceRoom, true)
			var logs testkit.SyncBuffer
			e.h.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			e.ws.Script(callerID, reply)
			e.handleBy(time.Now().Add(10*time.Second), event(RouteSendMessage, ask(traceQuestion)))
			if n := len(e.ws.Frames(callerID)); n != 0 || e.ws.Posts(callerID) != 1 {
				t.Errorf("refused socket: %d frames, %d posts; want 0 and 1", n, e.ws.Posts(callerID))
			}
			if tr := e.only("peer"); tr.Text != traceAnswer || tr.Terminal.Type != relay.TypeComplete {
				t.Errorf("peer got %q ending %+v", tr.Text, tr.Terminal)
			}
			e.answerStored(traceAnswer, OutcomeComplete)
			e.stillConnected(callerID)
			errs := 0
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					errs++
					if !strings.Contains(line, e.ws.URL) || !strings.Contains(line, "CALLBACK_URL") {
						t.Errorf("the ERROR names neither the endpoint nor the causes: %s", line)
					}
				}
			}
			if errs != 1 {
				t.Errorf("%d ERROR lines, want 1:\n%s", errs, logs.String())
			}
			// The socket was not forgotten: the next question reaches it.
			e.handleBy(time.Now().Add(10*time.Second), event(RouteSendMessage, ask(traceQuestion)))
			if tr := e.only(callerID); tr.Text != traceAnswer || tr.Terminal.Type != relay.TypeComplete {
				t.Errorf("next question: got %q ending %+v", tr.Text, tr.Terminal)
			}
		})
	}
}

func TestHandle_AnswerWritesThrottledWithRetriesStillEndBeforeTheDeadline(t *testing.T) {
	e := newEnv(t, ragTrace, boot.DynamoDBRetries) // the deployed retryer: 8 tries, backoff up to 1 s
	e.h.DeadlineMargin = time.Second
	e.answerWriteThrottled(func(ev events.APIGatewayWebsocketProxyRequest) { e.handleBy(time.Now().Add(2*time.Second), ev) })
	e.stillConnected(callerID)
}

// hugeRAG is a RAG service whose answer never ends: 9,999-byte deltas of
// Korean text, far past what one history item holds.
func hugeRAG(t *testing.T) string {
	piece := strings.Repeat("가", 3333)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for range 60 {
			if _, err := io.WriteString(w, sseEvent(piece, false)); err != nil {
				return
			}
		}
		io.WriteString(w, "data: [DONE]\n")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHandle_AnswerPastTheCapEndsWithAnswerTooLongAndIsStoredAsSent(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.connect("peer", traceRoom, true)
	e.h.RAG = rag.NewClient(hugeRAG(t), "DEFAULT_RAG", testTimeouts, nil)
	e.handleBy(time.Now().Add(30*time.Second), event(RouteSendMessage, ask(traceQuestion)))
	tr := e.only(callerID)
	if tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != CodeAnswerTooLong {
		t.Fatalf("terminal %+v, want ANSWER_TOO_LONG", tr.Terminal)
	}
	if n := len(tr.Text); n > store.MaxMessageTextBytes || n <= store.MaxMessageTextBytes-3 {
		t.Errorf("client got %d bytes, want the %d bytes that fit (on a rune boundary)", n, store.MaxMessageTextBytes)
	}
	if peer := e.only("peer"); peer.Text != tr.Text {
		t.Errorf("peer got %d bytes, caller %d", len(peer.Text), len(tr.Text))
	}
	e.answerStored(tr.Text, CodeAnswerTooLong)
}

// panicky panics on the first post to the caller.
type panicky struct {
	relay.Poster
	done atomic.Bool
}

func (p *panicky) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput,
	optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	if *in.ConnectionId == callerID && p.done.CompareAndSwap(false, true) {
		panic("poster bug")
	}
	return p.Poster.PostToConnection(ctx, in, optFns...)
}

func TestHandle_PanickingPosterEndsTheAnswerWithInternal(t *testing.T) {
	e := newEnv(t, ragEndless) // only the panic ends this answer
	e.connect("peer", traceRoom, true)
	p := &panicky{Poster: e.ws.Client()}
	e.h.Poster = func(string) relay.Poster { return p }
	e.handleBy(time.Now().Add(20*time.Second), event(RouteSendMessage, ask(traceQuestion)))
	var sent string
	for _, id := range []string{callerID, "peer"} {
		tr := e.only(id)
		if tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != CodeInternal {
			t.Errorf("%s: terminal %+v, want INTERNAL", id, tr.Terminal)
		}
		sent = tr.Text
	}
	e.answerStored(sent, CodeInternal)
}

func TestPostStatus_AnAttemptOutOfTimeIsATimeout(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.hangPosts(func(int32) bool { return true })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// Through the real client: its error, wrapped as the relay sees it.
	_, err := e.ws.Client().PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(callerID), Data: []byte("{}")})
	if got := postStatus(err); got != "timeout" {
		t.Errorf("postStatus(%v) = %q, want timeout", err, got)
	}
	if got := postStatus(context.Canceled); got != "canceled" {
		t.Errorf("postStatus(Canceled) = %q, want canceled", got)
	}
}

func TestHandle_ARAGServiceThatNeverAnswersEndsWithRAGTimeoutBeforeTheDeadline(t *testing.T) {
	for _, mode := range []ragMode{ragStallFirst, ragStallMid} {
		e := newEnv(t, mode)
		e.h.RAG = rag.NewClient(e.rag.URL, "DEFAULT_RAG", rag.Timeouts{Connect: time.Second}, nil) // no RAG bounds: only the deadline
		e.h.DeadlineMargin = 600 * time.Millisecond
		e.handleBy(time.Now().Add(1500*time.Millisecond), event(RouteSendMessage, ask(traceQuestion)))
		tr := e.only(callerID)
		if tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != rag.CodeTimeout {
			t.Errorf("mode %d: terminal %+v, want RAG_TIMEOUT", mode, tr.Terminal)
		}
		e.answerStored(tr.Text, rag.CodeTimeout)
		e.stillConnected(callerID)
	}
}
