package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/ragchat/ragchat/internal/wsclient"
)

// frame is one server-to-client websocket frame, as wsclient decodes it.
type frame = wsclient.Frame

// client is a websocket client of the stack: a wsclient.Conn with the
// test's bounds, and the id of its connection.
type client struct {
	conn *wsclient.Conn
	ID   string // connectionId, from the Connections table
	Room string
	ref  *atomic.Pointer[client] // the test cleanup's hold on c
}

// refusal dials and expects the handshake to be refused; it returns the
// status and the error body.
func (hr *harness) refusal(t testing.TB, rawQuery string) (int, apiError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, err := wsclient.DialURL(ctx, hr.wsURL(rawQuery))
	if err == nil {
		c.Close()
		t.Fatalf("handshake with %q accepted, want it refused", redact(rawQuery))
	}
	var r *wsclient.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("websocket dial: %v", err)
	}
	var e apiError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("refused handshake %d: body %q is not the error JSON", r.Status, r.Body)
	}
	return r.Status, e
}

func (hr *harness) wsURL(rawQuery string) string {
	if rawQuery == "" {
		return hr.st.URLs.WebSocket
	}
	return hr.st.URLs.WebSocket + "?" + rawQuery
}

// dial connects token to room and learns the connection's id from the
// Connections table. The socket is closed at the end of the test.
func (hr *harness) dial(t testing.TB, token, room string) *client {
	t.Helper()
	before := map[string]bool{}
	for _, c := range hr.roomConnections(t, room) {
		before[c.ConnectionID] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	conn, err := wsclient.Dial(ctx, hr.st.URLs.WebSocket, token, room)
	if err != nil {
		t.Fatalf("connect to %s: %v", room, err)
	}
	c := &client{conn: conn, Room: room}
	// The cleanup holds the client only until it is closed, so that long
	// tests (the soak reconnects thousands of times) do not keep every
	// client they ever had.
	ref := &atomic.Pointer[client]{}
	ref.Store(c)
	c.ref = ref
	t.Cleanup(func() {
		if c := ref.Load(); c != nil {
			c.close()
		}
	})
	for _, sc := range hr.roomConnections(t, room) {
		if !before[sc.ConnectionID] {
			if c.ID != "" {
				t.Fatalf("two new connections in %s while dialing one", room)
			}
			c.ID = sc.ConnectionID
		}
	}
	if c.ID == "" {
		t.Fatalf("the accepted connection to %s has no Connections item", room)
	}
	return c
}

// next returns the next frame of any kind.
func (c *client) next(t testing.TB) frame {
	t.Helper()
	f, ok := c.nextOrEnd(t)
	if !ok {
		t.Fatalf("connection %s ended while a frame was awaited: %v", c.ID, c.conn.Err())
	}
	return f
}

// nextOrEnd returns the next frame, or false when the socket ended first.
func (c *client) nextOrEnd(t testing.TB) (frame, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	f, err := c.conn.Next(ctx)
	switch {
	case errors.Is(err, wsclient.ErrClosed):
		return frame{}, false
	case err != nil:
		t.Fatalf("no frame and no close on connection %s within %s", c.ID, guard)
	}
	return f, true
}

// unread puts f back: next returns it again.
func (c *client) unread(f frame) { c.conn.Unread(f) }

// nextTyped returns the next frame with a type, skipping API Gateway's own
// frames as a client does (they are counted, see untypedFrames).
func (c *client) nextTyped(t testing.TB) frame {
	t.Helper()
	for {
		if f := c.next(t); f.Type != "" || f.NotJSON {
			return f
		}
	}
}

// typedFrames is the number of frames with a type read so far.
func (c *client) typedFrames() int { return c.conn.Typed() }

// untypedFrames returns API Gateway's own frames read so far.
func (c *client) untypedFrames() []frame { return c.conn.Untyped() }

// queued is the number of frames received and not read yet.
func (c *client) queued() int { return c.conn.Queued() }

// send writes one text message.
func (c *client) send(t testing.TB, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := c.conn.Send(ctx, []byte(msg)); err != nil {
		t.Fatalf("send on %s: %v", c.ID, err)
	}
}

// sendBinary writes one binary message.
func (c *client) sendBinary(t testing.TB, msg []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := c.conn.SendBinary(ctx, msg); err != nil {
		t.Fatalf("send on %s: %v", c.ID, err)
	}
}

// sendQuestion sends a sendMessage frame with message.
func (c *client) sendQuestion(t testing.TB, message string) {
	t.Helper()
	c.send(t, string(wsclient.Question(message)))
}

// sendQuestionWithID sends a question with clientMessageId id.
func (c *client) sendQuestionWithID(t testing.TB, message, id string) {
	t.Helper()
	c.send(t, string(wsclient.QuestionWithID(message, id)))
}

// answer is one answer as a client saw it.
type answer struct {
	MessageID string
	SessionID string
	Text      string // every delta concatenated in seq order, the terminal frame's included
	Terminal  frame  // the complete or error frame
	Frames    int    // frames taken, repeats dropped
}

// readAnswer reads the frames of the next answer up to and including its
// one terminal frame through the client rules (wsclient.Answers: one
// messageId and sessionId, seq 1, 2, 3, ... without gaps, exactly one
// complete or error, the deltas equal to complete.answer), one answer at a
// time, no frame over 32 KB.
func (c *client) readAnswer(t testing.TB) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	a, err := c.conn.ReadAnswer(ctx)
	if err != nil {
		t.Fatalf("connection %s: %v", c.ID, err)
	}
	return answer{MessageID: a.MessageID, SessionID: a.SessionID, Text: a.Text, Terminal: *a.Terminal, Frames: len(a.Frames)}
}

// ask sends a question and reads its answer.
func (c *client) ask(t testing.TB, message string) answer {
	t.Helper()
	c.sendQuestion(t, message)
	return c.readAnswer(t)
}

// close closes the socket normally and waits for the reader to end.
func (c *client) close() {
	c.ref.Store(nil)
	c.conn.Close()
}

// drop ends the socket without a close handshake, as a phone that loses
// its network does.
func (c *client) drop() {
	c.ref.Store(nil)
	c.conn.Drop()
}

// closeStatus waits for the socket to end and returns the close status the
// server sent (-1 when it sent none).
func (c *client) closeStatus(t testing.TB) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	code, err := c.conn.CloseStatus(ctx)
	if err != nil {
		t.Fatalf("connection %s: %v after %s", c.ID, err, guard)
	}
	return code
}

// redact shortens tokens in a query or body for test messages.
func redact(s string) string {
	if len(s) > 120 {
		return s[:60] + "…" + s[len(s)-20:]
	}
	return s
}

// redactFrame prints a frame without a possibly huge delta.
func redactFrame(f frame) string { return redact(string(f.Raw)) }
