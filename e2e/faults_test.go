package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/stack"
	"github.com/ragchat/ragchat/local/wsapi"
)

// Every fault case ends with finish: the next question on the same socket
// is answered completely, the socket got no frame beyond those read, and
// once the sockets close the room has no connection left in the table.

// Error codes of the error frame.
const (
	codeUnavailable = "RAG_UNAVAILABLE"
	codeTimeout     = "RAG_TIMEOUT"
	codeInterrupted = "RAG_STREAM_INTERRUPTED"
	codeInternal    = "INTERNAL"
)

// storedAnswerLimit is the message function's cap on an answer (what one
// Messages item holds); past it the answer ends with codeTooLong.
const storedAnswerLimit = 400_000

const codeTooLong = "ANSWER_TOO_LONG"

// finish asserts what every fault case ends with (see above).
func (hr *harness) finish(t testing.TB, c *client, others ...*client) {
	t.Helper()
	a := c.ask(t, qParking)
	hr.checkAnswered(t, c.Room, qParking, a)
	hr.checkNoExtraFrames(t, c)
	onlyTyped(t, append(others, c)...)
	for _, o := range append(others, c) {
		o.close()
	}
	hr.waitNoConnections(t, c.Room)
}

// checkNoExtraFrames asserts that every frame the @connections API
// delivered to c has been read: no stray frame (a second terminal, a late
// delta) is waiting.
func (hr *harness) checkNoExtraFrames(t testing.TB, c *client) {
	t.Helper()
	var delivered int64
	eventually(t, "the delivered frames of "+c.ID+" counted", func() bool {
		delivered = hr.st.WS.Stats().Connections[c.ID].Delivered
		return delivered >= int64(c.typedFrames())
	})
	if queued := c.queued(); queued > 0 || delivered != int64(c.typedFrames()) {
		t.Fatalf("connection %s: %d frames delivered, %d read, %d unread", c.ID, delivered, c.typedFrames(), queued)
	}
}

// checkClientMessage asserts that an error frame's message is meant for a
// person and leaks nothing of the backend.
func checkClientMessage(t testing.TB, f frame) {
	t.Helper()
	if f.Message == "" {
		t.Errorf("error frame without a message: %s", redactFrame(f))
	}
	for _, leak := range []string{"127.0.0.1", "dial", "tcp", "status", "EOF", "context", "rag:", "dynamodb", "Exception", "goroutine"} {
		if strings.Contains(f.Message, leak) {
			t.Errorf("error message %q leaks %q", f.Message, leak)
		}
	}
}

// ragFault is a RAG failure and how the question must end.
type ragFault struct {
	name   string
	marker string // the dev RAG fault marker
	code   string // "" for complete
	// partial: the client got a non-empty beginning of the answer (cut
	// mid-stream); otherwise nothing (failed before the first event) or,
	// for complete, the whole answer.
	partial bool
}

func TestFaults_RAGFailureEndsTheQuestionWithOneTerminalFrameAndKeepsWhatWasAnswered(t *testing.T) {
	tests := []ragFault{
		{name: "RAG resets the connection", marker: "refuse", code: codeUnavailable},
		{name: "RAG answers 500", marker: "http500", code: codeUnavailable},
		{name: "RAG answers 200 with a JSON body", marker: "json200", code: codeUnavailable},
		{name: "RAG stalls before the response headers", marker: "stall-headers", code: codeTimeout},
		{name: "RAG stalls before the first event", marker: "stall-before-first", code: codeTimeout},
		{name: "RAG stalls mid-stream", marker: "stall-mid", code: codeTimeout, partial: true},
		{name: "RAG closes the stream before [DONE]", marker: "eof-before-done", code: codeInterrupted, partial: true},
		{name: "RAG breaks the connection mid-stream", marker: "reset-mid", code: codeInterrupted, partial: true},
		{name: "malformed lines among good ones", marker: "malformed"},
		{name: "CR LF line ends, keep-alives and blank lines", marker: "crlf,keepalive,blank-lines"},
		{name: "bare CR line ends and SSE fields", marker: "cr,fields"},
		{name: "data: without the space and no final newline", marker: "nospace,no-final-newline"},
		{name: "text on the isComplete event, no [DONE]", marker: "complete-with-text,no-done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cu := h.newCustomer(t, "apt001")
			c := h.dial(t, cu.Token, cu.Room)
			question := qFee + " #fault=" + tt.marker
			a := c.ask(t, question)
			h.checkRAGOutcome(t, cu.Room, question, a, tt)
			h.finish(t, c)
		})
	}
}

// checkRAGOutcome asserts how a question under a RAG fault ended, in the
// frames and in the history.
func (hr *harness) checkRAGOutcome(t testing.TB, room, question string, a answer, tt ragFault) {
	t.Helper()
	if tt.code == "" {
		hr.checkAnswered(t, room, question, a)
		return
	}
	if a.Terminal.Type != "error" || a.Terminal.Code != tt.code {
		t.Fatalf("ended with %s, want an error frame %s", redactFrame(a.Terminal), tt.code)
	}
	checkClientMessage(t, a.Terminal)
	full := ""
	if turns := hr.rag.rag.History(room); len(turns) > 0 {
		full = turns[len(turns)-1].Answer
	}
	switch {
	case tt.partial && (a.Text == "" || len(a.Text) >= len(full) || !strings.HasPrefix(full, a.Text)):
		t.Fatalf("client got %q; want a non-empty beginning of %q", redact(a.Text), redact(full))
	case !tt.partial && a.Text != "":
		t.Fatalf("client got %q before the failure, want nothing", redact(a.Text))
	}
	hr.checkHistory(t, room, question, a, tt.code, a.Text)
}

func TestFaults_RAGRefusingConnectionsEndsTheQuestionWithRAGUnavailable(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	h.rag.down()
	defer func() { must(t, h.rag.up()) }()
	a := c.ask(t, qFee)
	if turns := h.rag.rag.History(cu.Room); len(turns) != 0 {
		t.Fatalf("the RAG server was reached while down: %+v", turns)
	}
	h.checkRAGOutcome(t, cu.Room, qFee, a, ragFault{code: codeUnavailable})
	must(t, h.rag.up())
	h.finish(t, c)
}

func TestFaults_AHugeLineStreamsInFramesUnder32KBAndEndsWithAnswerTooLongAsStored(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	question := qFee + " #fault=huge-line"
	a := c.ask(t, question)
	if a.Terminal.Type != "error" || a.Terminal.Code != codeTooLong {
		t.Fatalf("ended with %s, want %s", redactFrame(a.Terminal), codeTooLong)
	}
	if !isCutWithHugeLine(a.Text, h.rag.lastAnswer(t, cu.Room).Answer) {
		t.Fatalf("client got %d bytes; want the first ~%d bytes of the answer with its huge line", len(a.Text), storedAnswerLimit)
	}
	if a.Frames < storedAnswerLimit/wsclient.MaxFrameBytes {
		t.Fatalf("a %d-byte answer came in %d frames", len(a.Text), a.Frames)
	}
	checkClientMessage(t, a.Terminal)
	h.checkHistory(t, cu.Room, question, a, codeTooLong, a.Text)
	h.finish(t, c)
}

// isCutWithHugeLine reports whether got is the answer full with the dev
// RAG's huge line inserted, cut at storedAnswerLimit on a rune boundary.
func isCutWithHugeLine(got, full string) bool {
	const hugeStart = "\n대용량 응답 시험용 문장입니다. "
	at := strings.Index(got, hugeStart)
	return len(got) <= storedAnswerLimit && len(got) > storedAnswerLimit-3 && at >= 0 && strings.HasPrefix(full, got[:at])
}

// setWSFaults injects @connections faults until the test ends.
func (hr *harness) setWSFaults(t testing.TB, f wsapi.Faults) {
	t.Helper()
	must(t, hr.st.WS.SetFaults(f))
	t.Cleanup(func() { _ = hr.st.WS.SetFaults(wsapi.Faults{}) })
}

func TestFaults_ConnectionsAPIFailureBurstsAreRetriedWithoutLosingOrRepeatingFrames(t *testing.T) {
	tests := []struct {
		name   string
		faults wsapi.Faults
	}{
		{"429 burst", wsapi.Faults{Status: 429, Count: 3}},
		{"500 burst", wsapi.Faults{Status: 500, Count: 3}},
		// Longer than the old six-attempt budget, which gave the socket up.
		{"500s beyond the old retry budget", wsapi.Faults{Status: 500, Count: 12}},
		{"slow posts (coalescing)", wsapi.Faults{LatencyMs: 150}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cu := h.newCustomer(t, "apt001")
			c := h.dial(t, cu.Token, cu.Room)
			before := h.st.WS.Stats()
			h.setWSFaults(t, tt.faults)
			a := c.ask(t, qRecycle)
			h.checkAnswered(t, cu.Room, qRecycle, a)
			if injected := h.st.WS.Stats().Injected - before.Injected; injected != int64(tt.faults.Count) {
				t.Fatalf("%d failures injected, want %d", injected, tt.faults.Count)
			}
			must(t, h.st.WS.SetFaults(wsapi.Faults{}))
			h.finish(t, c)
		})
	}
}

// quoted returns s as a JSON log line holds a string value.
func quoted(s string) string { return `"` + s + `"` }

func TestFaults_DynamoDBThrottlingIsAbsorbedWhenBriefAndEndsTheQuestionCleanlyWhenNot(t *testing.T) {
	tests := []struct {
		name      string
		operation string
		table     func() string
		n         int
		// code "" means the question is answered; otherwise one error
		// frame with code, and nothing is stored.
		code    string
		session bool // the error frame names the room
	}{
		{"connection lookup throttled 3 times", "GetItem", func() string { return h.st.Tables.Connections }, 3, "", false},
		{"connection lookup throttled throughout", "GetItem", func() string { return h.st.Tables.Connections }, -1, codeInternal, false},
		{"history write throttled 3 times", "PutItem", func() string { return h.st.Tables.Messages }, 3, "", true},
		{"history write throttled throughout", "PutItem", func() string { return h.st.Tables.Messages }, -1, codeInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cu := h.newCustomer(t, "apt001")
			c := h.dial(t, cu.Token, cu.Room)
			f := h.st.Dynamo.Throttle(tt.operation, tt.table(), tt.n)
			t.Cleanup(f.Remove)
			a := c.ask(t, qFee)
			f.Remove()
			if f.Hits() == 0 {
				t.Fatalf("the throttle was never hit")
			}
			if tt.code == "" {
				h.checkAnswered(t, cu.Room, qFee, a)
				h.finish(t, c)
				return
			}
			if a.Terminal.Type != "error" || a.Terminal.Code != tt.code {
				t.Fatalf("ended with %s, want error %s", redactFrame(a.Terminal), tt.code)
			}
			if want := map[bool]string{true: cu.Room, false: ""}[tt.session]; a.SessionID != want {
				t.Fatalf("error frame session %q, want %q", a.SessionID, want)
			}
			checkClientMessage(t, a.Terminal)
			if msgs := h.history(t, cu.Room); len(msgs) != 0 {
				t.Fatalf("history holds %d items after a failed question", len(msgs))
			}
			if turns := h.rag.rag.History(cu.Room); len(turns) != 0 {
				t.Fatalf("the RAG server was asked although the question failed first")
			}
			h.finish(t, c)
		})
	}
}

func TestFaults_AnswerWriteThrottledAfterStreamingStarted(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		stored bool
	}{
		{"briefly: the answer is stored", 3, true},
		{"for six tries: the function's own retries still store it", 6, true},
		{"throughout: the answer is still delivered, its loss logged", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cu := h.newCustomer(t, "apt001")
			c := h.dial(t, cu.Token, cu.Room)
			// The stream pauses after three pieces; the question is stored
			// before the first frame goes out.
			question := qFee + " #fault=stall-mid:1500ms"
			c.sendQuestion(t, question)
			c.unread(c.nextTyped(t))
			f := h.st.Dynamo.Throttle("PutItem", h.st.Tables.Messages, tt.n)
			t.Cleanup(f.Remove)
			a := c.readAnswer(t)
			if tt.stored {
				h.out.waitFor(t, `"answered"`, quoted(a.MessageID))
				f.Remove()
				h.checkAnswered(t, cu.Room, question, a)
			} else {
				h.out.waitFor(t, "store the answer", quoted(a.MessageID))
				f.Remove()
				if a.Terminal.Type != "complete" || a.Text != h.rag.lastAnswer(t, cu.Room).Answer {
					t.Fatalf("client got %s after %q", redactFrame(a.Terminal), redact(a.Text))
				}
				// The answer item is written as its first frame goes out,
				// which may come before or after the throttle: history holds
				// the question and, at most, that first write (outcome
				// streaming, a prefix of what the socket got).
				msgs := h.history(t, cu.Room)
				if len(msgs) == 0 || len(msgs) > 2 || msgs[0].Text != question {
					t.Fatalf("history %+v, want the question and at most the answer's first write", msgs)
				}
				if len(msgs) == 2 {
					m := msgs[1]
					if m.Role != "bot" || m.Outcome != "streaming" || m.MessageID != a.MessageID || !strings.HasPrefix(a.Text, m.Text) {
						t.Fatalf("answer item %+v, want the streaming first write of %s with a prefix of %q", m, a.MessageID, redact(a.Text))
					}
				}
			}
			h.finish(t, c)
		})
	}
}

func TestFaults_ClientDisappearingMidStreamIsDroppedAndTheRoomStillGetsTheWholeAnswer(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	asker := h.dial(t, cu.Token, cu.Room)
	watcher := h.dial(t, cu.Token, cu.Room)
	gone := h.st.WS.Stats().Gone
	question := qFee + " #fault=stall-mid:1500ms"
	asker.sendQuestion(t, question)
	first := asker.nextTyped(t)
	asker.drop()
	a := watcher.readAnswer(t)
	if a.MessageID != first.MessageID {
		t.Fatalf("watcher saw %s, asker %s", a.MessageID, first.MessageID)
	}
	h.checkAnswered(t, cu.Room, question, a)
	eventually(t, "the vanished socket's item deleted", func() bool { return !h.connectionItem(t, asker.ID) })
	if h.st.WS.Stats().Gone == gone {
		t.Fatalf("no post met the vanished socket's 410")
	}
	h.finish(t, watcher)
}

// disconnectEvent is the $disconnect event API Gateway sends for id.
func disconnectEvent(id string) []byte {
	reason := "Client-side close frame status not set"
	ev := events.APIGatewayWebsocketProxyRequest{
		Headers: map[string]string{"Host": "127.0.0.1"},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: "$disconnect", EventType: "DISCONNECT", ConnectionID: id, Stage: "prod",
			RequestID: "e2e-" + randHex(4), DomainName: "127.0.0.1", APIID: "local",
			DisconnectStatusCode: 1005, DisconnectReason: &reason,
			RequestTimeEpoch: time.Now().UnixMilli(), ConnectedAt: time.Now().UnixMilli(),
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

func TestFaults_DisconnectDeliveredTwiceIsHarmless(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	leaver := h.dial(t, cu.Token, cu.Room)
	stayer := h.dial(t, cu.Token, cu.Room)
	leaver.close()
	eventually(t, "the closed socket's item deleted", func() bool { return !h.connectionItem(t, leaver.ID) })
	// The same $disconnect again, twice at once.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			out, err := h.st.Pool.Invoke(ctx, "DisconnectFunction", disconnectEvent(leaver.ID))
			if err != nil {
				t.Errorf("repeated $disconnect failed: %v", err)
				return
			}
			var resp events.APIGatewayProxyResponse
			if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 {
				t.Errorf("repeated $disconnect answered %s", out)
			}
		})
	}
	wg.Wait()
	if !h.connectionItem(t, stayer.ID) {
		t.Fatalf("a repeated $disconnect deleted another connection")
	}
	h.finish(t, stayer)
}

func TestFaults_DisconnectNeverDeliveredLeavesAConnectionThe410PathPurges(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	lost := h.dial(t, cu.Token, cu.Room)
	stayer := h.dial(t, cu.Token, cu.Room)
	// $disconnect runs but cannot delete: as if it was never delivered.
	f := h.st.Dynamo.Throttle("DeleteItem", h.st.Tables.Connections, -1)
	t.Cleanup(f.Remove)
	lost.close()
	h.out.waitFor(t, "delete connection failed", quoted(lost.ID))
	f.Remove()
	if !h.connectionItem(t, lost.ID) {
		t.Fatalf("the item of the socket whose $disconnect failed is gone already")
	}
	gone := h.st.WS.Stats().Gone
	a := stayer.ask(t, qFee)
	h.checkAnswered(t, cu.Room, qFee, a)
	eventually(t, "the dead connection purged on 410", func() bool { return !h.connectionItem(t, lost.ID) })
	if h.st.WS.Stats().Gone == gone {
		t.Fatalf("no 410 was met")
	}
	h.finish(t, stayer)
}

func TestFaults_ExpiredConnectionItemsAreNeverPosted(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	// What a connection whose $disconnect was lost leaves behind once its
	// expiresAt has passed (TTL deletion may take days; never locally).
	expired := storedConnection{
		ConnectionID: "e2eExpired" + randHex(3) + "=", RoomID: cu.Room, UserID: cu.UserID, UserName: cu.UserName,
		CompanyID: cu.CompanyID, ConnectedAt: time.Now().Add(-3 * time.Hour).UnixMilli(), ExpiresAt: time.Now().Add(-time.Minute).Unix(),
	}
	h.putConnection(t, expired)
	before := h.st.WS.Stats()
	a := c.ask(t, qFee)
	h.checkAnswered(t, cu.Room, qFee, a)
	h.out.waitFor(t, `"answered"`, quoted(a.MessageID), `"recipients":1`)
	if after := h.st.WS.Stats(); after.Gone != before.Gone {
		t.Fatalf("the expired connection was posted to (%d 410s)", after.Gone-before.Gone)
	}
	if !h.connectionItem(t, expired.ConnectionID) {
		t.Fatalf("the expired item was deleted; only TTL should remove it")
	}
	// TTL's job, done by hand so that the room ends empty.
	h.deleteConnection(t, expired.ConnectionID)
	h.finish(t, c)
}

// deleteConnection deletes a Connections item directly.
func (hr *harness) deleteConnection(t testing.TB, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	_, err := hr.st.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(hr.st.Tables.Connections),
		Key:       map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: id}},
	})
	must(t, err)
}

// deadlineMargin is the DEADLINE_MARGIN of the deadline stack's message
// function: with the template's 120 s Timeout, the answer must end about
// 3 s after the invocation starts.
const deadlineMargin = "117s"

func TestFaults_LambdaDeadlineMidStreamEndsTheQuestionWithRAGTimeoutBeforeTheFunctionIsKilled(t *testing.T) {
	d := h.deadlineStack(t)
	cu := d.newCustomer(t, "apt001")
	c := d.dial(t, cu.Token, cu.Room)
	// A piece every 400 ms: never idle for RAG_IDLE_TIMEOUT (2 s), far
	// longer in all than the 3 s the deadline leaves.
	question := qFee + " #fault=slow:400ms"
	a := c.ask(t, question)
	d.checkRAGOutcome(t, cu.Room, question, a, ragFault{code: codeTimeout, partial: true})
	d.out.waitFor(t, `"answered"`, quoted(a.MessageID), `"outcome":"RAG_TIMEOUT"`)
	d.finish(t, c)
}

// deadlineStack starts, once per test, a second stack whose message
// function ends answers DEADLINE_MARGIN before its deadline.
func (hr *harness) deadlineStack(t testing.TB) *harness {
	t.Helper()
	opts := hr.opts
	opts.BuildDir = filepath.Join(hr.tmp, "build-deadline")
	opts.EnvVars = stack.EnvVars{
		"Parameters":      hr.opts.EnvVars["Parameters"],
		"MessageFunction": {"DEADLINE_MARGIN": deadlineMargin},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start the deadline stack: %v", err)
	}
	t.Cleanup(st.Close)
	return hr.withStack(st)
}
