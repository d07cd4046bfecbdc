package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// API is an HTTP client of the stack's HTTP API.
type API struct {
	Base string // http://127.0.0.1:3000
	HC   *http.Client
}

// Login logs in and returns the token.
func (a API) Login(ctx context.Context, company, id, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"id": id, "password": password}) // strings always marshal
	var out struct {
		Token string `json:"token"`
	}
	if err := a.post(ctx, "/api/customer/"+url.PathEscape(company)+"/login", "", body, &out); err != nil {
		return "", fmt.Errorf("login %s/%s: %w", company, id, err)
	}
	return out.Token, nil
}

// CreateRoom creates a chatbot room and returns its id.
func (a API) CreateRoom(ctx context.Context, token string) (string, error) {
	var out struct {
		RoomID string `json:"roomId"`
	}
	if err := a.post(ctx, "/api/customer/chatbot", token, nil, &out); err != nil {
		return "", fmt.Errorf("create room: %w", err)
	}
	return out.RoomID, nil
}

func (a API) post(ctx context.Context, path, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := a.HC
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("POST %s: read: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("POST %s: decode %q: %w", path, data, err)
	}
	return nil
}

// Frame is a server-to-client websocket frame, stamped when it was read.
type Frame struct {
	At         time.Time `json:"-"`
	Size       int       `json:"-"`
	Type       string    `json:"type"`
	SessionID  string    `json:"sessionId"`
	MessageID  string    `json:"messageId"`
	Seq        int       `json:"seq"`
	Delta      string    `json:"delta"`
	IsComplete bool      `json:"isComplete"`
	Answer     *string   `json:"answer"`
	Code       string    `json:"code"`
}

// Conn is a websocket client of the stack. One goroutine reads and stamps
// every frame; Ask consumes them.
type Conn struct {
	ws     *websocket.Conn
	frames chan Frame
	errc   chan error
}

// Dial opens a websocket to wsURL (ws://host/stage) for a room.
func Dial(ctx context.Context, wsURL, token, roomID string) (*Conn, error) {
	u := wsURL + "?token=" + url.QueryEscape(token) + "&roomId=" + url.QueryEscape(roomID)
	ws, resp, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("dial %s (status %d): %w", wsURL, status, err)
	}
	ws.SetReadLimit(1 << 20)
	c := &Conn{ws: ws, frames: make(chan Frame, 256), errc: make(chan error, 1)}
	go c.read()
	return c, nil
}

func (c *Conn) read() {
	for {
		_, data, err := c.ws.Read(context.Background())
		at := time.Now()
		if err != nil {
			c.errc <- err
			close(c.frames)
			return
		}
		f := Frame{At: at, Size: len(data)}
		if json.Unmarshal(data, &f) != nil || f.Type == "" {
			continue // API Gateway's own frames carry no type; clients ignore them
		}
		c.frames <- f
	}
}

// Answer is what a client received for one question.
type Answer struct {
	Sent   time.Time // the question left the client
	Frames []Frame   // in arrival order, the terminal one last
}

// Ask sends a question and collects the frames of its answer until the
// terminal frame (complete or error), or fails after timeout.
func (c *Conn) Ask(ctx context.Context, question string, timeout time.Duration) (Answer, error) {
	msg, _ := json.Marshal(map[string]string{"action": "sendMessage", "message": question, "category1": "", "category2": ""})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := Answer{Sent: time.Now()}
	if err := c.ws.Write(ctx, websocket.MessageText, msg); err != nil {
		return a, fmt.Errorf("send question: %w", err)
	}
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return a, fmt.Errorf("socket closed: %w", <-c.errc)
			}
			a.Frames = append(a.Frames, f)
			if f.Type != "delta" {
				return a, nil
			}
		case <-ctx.Done():
			return a, fmt.Errorf("answer not complete after %s (%d frames): %w", timeout, len(a.Frames), ctx.Err())
		}
	}
}

// Close closes the socket normally.
func (c *Conn) Close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "bye")
}

// Check is the integrity of one answer as received.
type Check struct {
	Lost       int // frames missing from the seq sequence, plus 1 when the text differs from what the RAG sent
	Misordered int // frames that arrived after a frame with a higher seq
	Complete   bool
}

// Verify checks an answer against the text the RAG service emitted: seq
// runs 1..N in arrival order, every frame shares one messageId, the deltas
// concatenate to the text, and the complete frame's answer (when present)
// repeats it.
func Verify(a Answer, emitted string) Check {
	var ch Check
	maxSeq := 0
	bySeq := map[int]string{}
	for _, f := range a.Frames {
		if f.Seq < maxSeq {
			ch.Misordered++
		}
		maxSeq = max(maxSeq, f.Seq)
		bySeq[f.Seq] = f.Delta
	}
	var text strings.Builder
	for s := 1; s <= maxSeq; s++ {
		d, ok := bySeq[s]
		if !ok {
			ch.Lost++
		}
		text.WriteString(d)
	}
	if n := len(a.Frames); n > 0 {
		last := a.Frames[n-1]
		ch.Complete = last.Type == "complete"
		if last.Answer != nil && *last.Answer != text.String() {
			ch.Lost++
		}
	}
	if text.String() != emitted {
		ch.Lost++
	}
	return ch
}

// errNoDelta marks an answer without any delta frame.
var errNoDelta = errors.New("answer has no delta")

// firstText returns the first frame that carries text.
func firstText(a Answer) (Frame, error) {
	for _, f := range a.Frames {
		if f.Delta != "" {
			return f, nil
		}
	}
	return Frame{}, errNoDelta
}
