package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// MaxFrameBytes is API Gateway's websocket frame limit: no frame the
// server sends is larger.
const MaxFrameBytes = 32 * 1024

// queueFrames is how many unread frames a Conn holds: several whole
// answers.
const queueFrames = 1024

// ErrClosed is returned by Next once the socket has ended and every frame
// it delivered has been read; errors.Unwrap gives the reason.
var ErrClosed = errors.New("socket closed")

// Refusal is a refused websocket handshake.
type Refusal struct {
	Status int
	Body   []byte // the start of the response body
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("handshake refused: %d %.200s", r.Status, r.Body)
}

// Conn is a websocket client of the stack. One goroutine reads every frame
// as it arrives, stamps it and queues it; Next hands them out in arrival
// order. Answers are read through the client rules (ReadAnswer), which
// keep their state per socket. Conn is safe for one reader and one writer
// at a time.
type Conn struct {
	ws     *websocket.Conn
	frames chan Frame
	done   chan struct{}

	mu      sync.Mutex
	readErr error
	pending []Frame // put back by Unread, last first
	typed   int     // frames with a type (or not JSON) handed out
	untyped []Frame // API Gateway's own frames handed out
	closed  bool

	answers Answers
}

// Dial connects to wsURL (ws://host/stage) with a token and a room.
func Dial(ctx context.Context, wsURL, token, roomID string) (*Conn, error) {
	return DialURL(ctx, wsURL+"?"+url.Values{"token": {token}, "roomId": {roomID}}.Encode())
}

// DialURL connects to u as given (query included). A handshake the server
// answers with a status other than 101 gives a *Refusal.
func DialURL(ctx context.Context, u string) (*Conn, error) {
	ws, resp, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		if resp == nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		r := &Refusal{Status: resp.StatusCode}
		if resp.Body != nil {
			r.Body, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
		}
		return nil, r
	}
	ws.SetReadLimit(4 << 20) // the frame limit is checked by ReadAnswer, not enforced by the reader
	c := &Conn{ws: ws, frames: make(chan Frame, queueFrames), done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *Conn) read() {
	defer close(c.done)
	defer close(c.frames)
	for {
		_, data, err := c.ws.Read(context.Background())
		at := time.Now()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		f, perr := Parse(data)
		f.At, f.NotJSON = at, perr != nil
		c.frames <- f
	}
}

// Next returns the next frame of any kind, or an error when ctx ends first
// or the socket has ended (ErrClosed).
func (c *Conn) Next(ctx context.Context) (Frame, error) {
	c.mu.Lock()
	if n := len(c.pending); n > 0 {
		f := c.pending[n-1]
		c.pending = c.pending[:n-1]
		c.mu.Unlock()
		return f, nil
	}
	c.mu.Unlock()
	select {
	case f, ok := <-c.frames:
		if !ok {
			return Frame{}, fmt.Errorf("%w: %w", ErrClosed, c.Err())
		}
		c.mu.Lock()
		if f.Type == "" && !f.NotJSON {
			c.untyped = append(c.untyped, f)
		} else {
			c.typed++
		}
		c.mu.Unlock()
		return f, nil
	case <-ctx.Done():
		return Frame{}, fmt.Errorf("no frame: %w", ctx.Err())
	}
}

// NextTyped returns the next frame with a type (or that is not JSON),
// skipping API Gateway's own frames as a client does.
func (c *Conn) NextTyped(ctx context.Context) (Frame, error) {
	for {
		f, err := c.Next(ctx)
		if err != nil || f.Type != "" || f.NotJSON {
			return f, err
		}
	}
}

// Unread puts f back: Next returns it again.
func (c *Conn) Unread(f Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, f)
}

// ReadAnswer reads frames through the client rules (see Answers) until an
// answer ends, and returns it. It reads one answer at a time: a frame of
// another answer before the ending is an error, as are a frame that is not
// JSON and a frame over MaxFrameBytes. Frames of other types and API
// Gateway's own are skipped; a repeat of a frame of an answer already
// returned is dropped.
func (c *Conn) ReadAnswer(ctx context.Context) (*Answer, error) {
	var cur *Answer
	for {
		f, err := c.NextTyped(ctx)
		if err != nil {
			if cur != nil {
				return cur, fmt.Errorf("answer %s after %d frames: %w", cur.MessageID, len(cur.Frames), err)
			}
			return nil, err
		}
		if f.NotJSON {
			return cur, fmt.Errorf("frame is not JSON: %.120q", f.Raw)
		}
		if len(f.Raw) > MaxFrameBytes {
			return cur, fmt.Errorf("frame of %d bytes, over the %d-byte limit", len(f.Raw), MaxFrameBytes)
		}
		dups := 0
		if a := c.answers.current[f.MessageID]; a != nil {
			dups = a.Duplicates
		}
		a, err := c.answers.Add(f)
		switch {
		case err != nil:
			return cur, err
		case a == nil:
			continue
		case a != cur && a.Duplicates > dups && (cur != nil || a.Ended()):
			continue // a late repeat of an answer already returned
		case cur == nil:
			cur = a
		case a != cur:
			return cur, fmt.Errorf("frame of answer %s interleaved into answer %s: %.200s", a.MessageID, cur.MessageID, f.Raw)
		}
		if cur.Ended() {
			return cur, nil
		}
	}
}

// Send writes one text message.
func (c *Conn) Send(ctx context.Context, msg []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

// SendBinary writes one binary message.
func (c *Conn) SendBinary(ctx context.Context, msg []byte) error {
	return c.ws.Write(ctx, websocket.MessageBinary, msg)
}

// Question is a sendMessage request.
func Question(message string) []byte { return QuestionWithID(message, "") }

// QuestionWithID is a sendMessage request with clientMessageId
// clientMessageID (none when empty).
func QuestionWithID(message, clientMessageID string) []byte {
	req := map[string]string{"action": "sendMessage", "message": message, "category1": "", "category2": ""}
	if clientMessageID != "" {
		req["clientMessageId"] = clientMessageID
	}
	body, _ := json.Marshal(req) // strings always marshal
	return body
}

// Ask sends a question and reads its answer.
func (c *Conn) Ask(ctx context.Context, message string) (*Answer, error) {
	if err := c.Send(ctx, Question(message)); err != nil {
		return nil, fmt.Errorf("send question: %w", err)
	}
	return c.ReadAnswer(ctx)
}

// Err is the error that ended the reader, nil while the socket is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// Typed is the number of frames with a type (or not JSON) Next has
// handed out.
func (c *Conn) Typed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.typed
}

// Untyped returns API Gateway's own frames Next has handed out.
func (c *Conn) Untyped() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.untyped...)
}

// Queued is the number of frames received and not yet handed out.
func (c *Conn) Queued() int { return len(c.frames) }

// Close closes the socket normally and waits for the reader to end. It
// returns the close handshake's error; closing twice is harmless.
func (c *Conn) Close() error {
	var err error
	if c.markClosed() {
		err = c.ws.Close(websocket.StatusNormalClosure, "")
		c.ws.CloseNow()
	}
	<-c.done
	return err
}

// Drop ends the socket without a close handshake, as a phone that loses its
// network does, and waits for the reader to end.
func (c *Conn) Drop() {
	c.markClosed()
	c.ws.CloseNow()
	<-c.done
}

func (c *Conn) markClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !c.closed
	c.closed = true
	return first
}

// CloseStatus discards frames until the socket ends and returns the close
// status the server sent, -1 when it sent none.
func (c *Conn) CloseStatus(ctx context.Context) (websocket.StatusCode, error) {
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			var ce websocket.CloseError
			if errors.As(c.Err(), &ce) {
				return ce.Code, nil
			}
			return -1, nil
		case <-ctx.Done():
			return 0, fmt.Errorf("socket still open: %w", ctx.Err())
		}
	}
}
