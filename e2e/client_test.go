package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// maxFrameBytes is API Gateway's websocket frame limit, which no frame of
// the relay may exceed.
const maxFrameBytes = 32 * 1024

// frame is one server-to-client websocket frame. A frame without Type is
// one of API Gateway's own.
type frame struct {
	Type       string  `json:"type"`
	SessionID  string  `json:"sessionId"`
	MessageID  string  `json:"messageId"`
	Seq        int     `json:"seq"`
	Delta      string  `json:"delta"`
	IsComplete bool    `json:"isComplete"`
	Answer     *string `json:"answer"`
	Code       string  `json:"code"`
	Message    string  `json:"message"`

	raw []byte
}

// client is a websocket client of the stack. A reader goroutine queues
// every frame; the methods read the queue under the guard bound.
type client struct {
	conn   *websocket.Conn
	ID     string // connectionId, from the Connections table
	Room   string
	frames chan frame

	mu       sync.Mutex
	readErr  error
	typed    int     // frames with a type read so far
	pending  []frame // frames put back by unread, last first
	untyped  []frame // API Gateway's own frames read so far
	closed   bool
	readDone chan struct{}
	ref      *atomic.Pointer[client] // the test cleanup's hold on c
}

// frameQueue is how many unread frames a client holds: several whole
// answers.
const frameQueue = 1024

// dialResult is a refused handshake.
type dialResult struct {
	Status int
	Body   []byte
}

// dialRaw opens a websocket with the raw query string; it returns the
// refusal when the handshake is refused.
func (hr *harness) dialRaw(t testing.TB, rawQuery string) (*websocket.Conn, *dialResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	u := hr.st.URLs.WebSocket
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	c, resp, err := websocket.Dial(ctx, u, nil)
	if err == nil {
		return c, nil
	}
	if resp == nil {
		t.Fatalf("websocket dial: %v", err)
	}
	r := &dialResult{Status: resp.StatusCode}
	if resp.Body != nil {
		buf := make([]byte, 1024)
		n, _ := resp.Body.Read(buf)
		r.Body = buf[:n]
	}
	return nil, r
}

// refusal dials and expects the handshake to be refused; it returns the
// status and the error body.
func (hr *harness) refusal(t testing.TB, rawQuery string) (int, apiError) {
	t.Helper()
	c, r := hr.dialRaw(t, rawQuery)
	if c != nil {
		c.CloseNow()
		t.Fatalf("handshake with %q accepted, want it refused", redact(rawQuery))
	}
	var e apiError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("refused handshake %d: body %q is not the error JSON", r.Status, r.Body)
	}
	return r.Status, e
}

// dial connects token to room and learns the connection's id from the
// Connections table. The socket is closed at the end of the test.
func (hr *harness) dial(t testing.TB, token, room string) *client {
	t.Helper()
	before := map[string]bool{}
	for _, c := range hr.roomConnections(t, room) {
		before[c.ConnectionID] = true
	}
	conn, refused := hr.dialRaw(t, url.Values{"token": {token}, "roomId": {room}}.Encode())
	if refused != nil {
		t.Fatalf("connect to %s refused: %d %s", room, refused.Status, refused.Body)
	}
	conn.SetReadLimit(4 << 20) // the frame limit is asserted, not enforced by the reader
	c := &client{conn: conn, Room: room, frames: make(chan frame, frameQueue), readDone: make(chan struct{})}
	go c.read()
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

// read queues frames until the socket ends.
func (c *client) read() {
	defer close(c.readDone)
	defer close(c.frames)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		f := frame{raw: data}
		if err := json.Unmarshal(data, &f); err != nil {
			f.Type = "!not-json"
		}
		c.frames <- f
	}
}

// next returns the next frame of any kind.
func (c *client) next(t testing.TB) frame {
	t.Helper()
	f, ok := c.nextOrEnd(t)
	if !ok {
		t.Fatalf("connection %s ended while a frame was awaited: %v", c.ID, c.err())
	}
	return f
}

// nextOrEnd returns the next frame, or false when the socket ended first.
func (c *client) nextOrEnd(t testing.TB) (frame, bool) {
	t.Helper()
	c.mu.Lock()
	if n := len(c.pending); n > 0 {
		f := c.pending[n-1]
		c.pending = c.pending[:n-1]
		c.mu.Unlock()
		return f, true
	}
	c.mu.Unlock()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	select {
	case f, ok := <-c.frames:
		if !ok {
			return frame{}, false
		}
		c.mu.Lock()
		if f.Type == "" {
			c.untyped = append(c.untyped, f)
		} else {
			c.typed++
		}
		c.mu.Unlock()
		return f, true
	case <-timer.C:
		t.Fatalf("no frame and no close on connection %s within %s", c.ID, guard)
	}
	return frame{}, false
}

// unread puts f back: next returns it again.
func (c *client) unread(f frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, f)
}

// nextTyped returns the next frame with a type, skipping API Gateway's own
// frames as a client does (they are counted, see untypedFrames).
func (c *client) nextTyped(t testing.TB) frame {
	t.Helper()
	for {
		if f := c.next(t); f.Type != "" {
			return f
		}
	}
}

func (c *client) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// typedFrames is the number of frames with a type read so far.
func (c *client) typedFrames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.typed
}

// untypedFrames returns API Gateway's own frames read so far.
func (c *client) untypedFrames() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.untyped...)
}

// send writes one text message.
func (c *client) send(t testing.TB, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("send on %s: %v", c.ID, err)
	}
}

// sendBinary writes one binary message.
func (c *client) sendBinary(t testing.TB, msg []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageBinary, msg); err != nil {
		t.Fatalf("send on %s: %v", c.ID, err)
	}
}

// sendQuestion sends a sendMessage frame with message.
func (c *client) sendQuestion(t testing.TB, message string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"action": "sendMessage", "message": message, "category1": "", "category2": ""})
	c.send(t, string(body))
}

// answer is one answer as a client saw it.
type answer struct {
	MessageID string
	SessionID string
	Text      string // every delta concatenated in seq order, the terminal frame's included
	Terminal  frame  // the complete or error frame
	Frames    int
}

// readAnswer reads the frames of the next answer up to and including its
// one terminal frame, checking the envelope rules a client relies on: one
// messageId and sessionId, seq 1, 2, 3, ... without gaps, delta frames
// until exactly one complete or error, no frame over 32 KB.
func (c *client) readAnswer(t testing.TB) answer {
	t.Helper()
	var a answer
	var text strings.Builder
	for {
		f := c.nextTyped(t)
		if len(f.raw) > maxFrameBytes {
			t.Fatalf("frame of %d bytes on %s, over the 32 KB limit", len(f.raw), c.ID)
		}
		if a.Frames == 0 {
			a.MessageID, a.SessionID = f.MessageID, f.SessionID
		}
		a.Frames++
		switch {
		case f.MessageID != a.MessageID || f.SessionID != a.SessionID:
			t.Fatalf("frame %s interleaved into answer %s of session %q", redactFrame(f), a.MessageID, a.SessionID)
		case f.Seq != a.Frames:
			t.Fatalf("frame %s on %s: seq %d, want %d", redactFrame(f), c.ID, f.Seq, a.Frames)
		}
		text.WriteString(f.Delta)
		switch f.Type {
		case "delta":
			if f.IsComplete {
				t.Fatalf("delta frame with isComplete true: %s", redactFrame(f))
			}
			continue
		case "complete", "error":
			if !f.IsComplete {
				t.Fatalf("terminal frame with isComplete false: %s", redactFrame(f))
			}
		default:
			t.Fatalf("unknown frame %s", redactFrame(f))
		}
		a.Terminal = f
		a.Text = text.String()
		if f.Type == "complete" && f.Answer != nil && *f.Answer != a.Text {
			t.Fatalf("complete.answer (%d bytes) differs from the deltas (%d bytes)", len(*f.Answer), len(a.Text))
		}
		return a
	}
}

// ask sends a question and reads its answer.
func (c *client) ask(t testing.TB, message string) answer {
	t.Helper()
	c.sendQuestion(t, message)
	return c.readAnswer(t)
}

// close closes the socket normally and waits for the reader to end.
func (c *client) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.ref.Store(nil)
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
	c.conn.CloseNow()
	<-c.readDone
}

// drop ends the socket without a close handshake, as a phone that loses
// its network does.
func (c *client) drop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.ref.Store(nil)
	c.conn.CloseNow()
	<-c.readDone
}

// closeStatus waits for the socket to end and returns the close status the
// server sent (-1 when it sent none).
func (c *client) closeStatus(t testing.TB) websocket.StatusCode {
	t.Helper()
	for {
		timer := time.NewTimer(guard)
		select {
		case _, ok := <-c.frames:
			timer.Stop()
			if ok {
				continue
			}
			var ce websocket.CloseError
			if errors.As(c.err(), &ce) {
				return ce.Code
			}
			return -1
		case <-timer.C:
			t.Fatalf("connection %s still open after %s", c.ID, guard)
		}
	}
}

// redact shortens tokens in a query or body for test messages.
func redact(s string) string {
	if len(s) > 120 {
		return s[:60] + "…" + s[len(s)-20:]
	}
	return s
}

// redactFrame prints a frame without a possibly huge delta.
func redactFrame(f frame) string { return redact(string(f.raw)) }
