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
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
)

// API is an HTTP client of the stack's HTTP API.
type API struct {
	Base string // http://127.0.0.1:3000
	HC   *http.Client
}

// Login logs a customer in and returns the token.
func (a API) Login(ctx context.Context, company, id, password string) (string, error) {
	return a.login(ctx, "customer", company, id, password)
}

// login logs in at role's login route (customer, agent) and returns the
// token.
func (a API) login(ctx context.Context, role, company, id, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"id": id, "password": password}) // strings always marshal
	var out struct {
		Token string `json:"token"`
	}
	if err := a.post(ctx, "/api/"+role+"/"+url.PathEscape(company)+"/login", "", body, &out); err != nil {
		return "", fmt.Errorf("%s login %s/%s: %w", role, company, id, err)
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

// Answer is what a client received for one question.
type Answer struct {
	Sent time.Time // the question left the client
	*wsclient.Answer
}

// ask sends a question on c and reads its answer through the client rules
// (a broken rule fails the answer), or fails after timeout.
func ask(ctx context.Context, c *wsclient.Conn, question string, timeout time.Duration) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := Answer{Sent: time.Now()}
	var err error
	if a.Answer, err = c.Ask(ctx, question); err != nil {
		return a, fmt.Errorf("answer not complete after %s: %w", timeout, err)
	}
	if t := a.Answer.Terminal; t.Type == wsclient.TypeError && a.Answer.Text == "" {
		// Refused before the RAG service was asked: nothing to compare.
		return a, fmt.Errorf("question refused: %s %s", t.Code, t.Message)
	}
	return a, nil
}

// Check is the integrity of one answer the client rules accepted.
type Check struct {
	Differs  bool // the text differs from what the RAG service emitted
	Complete bool // it ended with a complete frame
}

// Verify checks an answer against the text the RAG service emitted.
func Verify(a *wsclient.Answer, emitted string) Check {
	return Check{Differs: a.Text != emitted, Complete: a.Ended() && a.Terminal.Type == wsclient.TypeComplete}
}

// errNoDelta marks an answer without any delta frame.
var errNoDelta = errors.New("answer has no delta")

// firstText returns the first frame that carries text.
func firstText(a *wsclient.Answer) (wsclient.Frame, error) {
	for _, f := range a.Frames {
		if f.Delta != "" {
			return f, nil
		}
	}
	return wsclient.Frame{}, errNoDelta
}
