// Package rag is ragchat's client of the company RAG service: it posts a
// question to {RAG_URL}/v1/chatbot/ask in the exact shape the existing
// service receives (seed-trace.txt) and reads the answer back, piece by
// piece, from its Server-Sent Events stream. Every failure is an *Error
// whose Code is one of the websocket error codes the relay sends on.
package rag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Error codes, as sent to websocket clients in the error envelope.
const (
	// CodeUnavailable: the service refused the connection, answered with a
	// status other than 200, or with a body that is not text/event-stream.
	CodeUnavailable = "RAG_UNAVAILABLE"
	// CodeTimeout: connecting, the first event or the gap between two
	// events took too long, or the caller's context deadline passed.
	CodeTimeout = "RAG_TIMEOUT"
	// CodeInterrupted: the stream ended or broke before [DONE] or an
	// isComplete event.
	CodeInterrupted = "RAG_STREAM_INTERRUPTED"
)

// Error is how Ask and Stream.Next fail. Code is CodeUnavailable,
// CodeTimeout or CodeInterrupted; Err says what happened, for logs (it may
// name hosts and statuses: do not send it to clients).
type Error struct {
	Code string
	Err  error
}

// Error returns the code and the cause.
func (e *Error) Error() string { return "rag: " + e.Code + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Timeouts bound each phase of a question. Zero disables a bound (the
// caller's context still applies).
type Timeouts struct {
	// Connect bounds establishing the TCP (and TLS) connection. It applies
	// to the client NewClient builds when given no *http.Client.
	Connect time.Duration
	// FirstEvent bounds the time from Ask to the first event, the wait for
	// the response headers included.
	FirstEvent time.Duration
	// Idle bounds each wait inside Stream.Next for the next event after the
	// first. Time the caller spends between calls does not count; comments
	// and keep-alives do not reset it.
	Idle time.Duration
}

var (
	errFirstEventStall = errors.New("no event within the first-event timeout")
	errIdleStall       = errors.New("no event within the idle timeout")
	errClosed          = errors.New("stream closed")
)

// Client asks the RAG service questions. It is safe for concurrent use.
type Client struct {
	url      string
	redacted string // url for logs and errors: no user:password
	sysInfo  string
	t        Timeouts
	hc       *http.Client
	bearer   string // sent as Authorization: Bearer when not empty; never logged
}

// NewClient returns a client of the service at baseURL (RAG_URL; a trailing
// slash is ignored) that sends sysInfo as meta.ragSysInfo. A nil hc gets a
// client of its own: dial and TLS handshake bounded by t.Connect, no overall
// timeout (answers stream for as long as the bounds allow) and no
// compression, so nothing between the service and the reader buffers
// events.
func NewClient(baseURL, sysInfo string, t Timeouts, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: t.Connect,
			DisableCompression:  true,
			MaxIdleConns:        16,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	u := strings.TrimRight(baseURL, "/") + "/v1/chatbot/ask"
	return &Client{url: u, redacted: redact(u), sysInfo: sysInfo, t: t, hc: hc}
}

// WithBearer makes c send token as Authorization: Bearer on every ask (the
// RAG service's credential, RagAuthSecretArn). It returns c; call it before
// c is used. The token appears in no error and no log line.
func (c *Client) WithBearer(token string) *Client {
	c.bearer = token
	return c
}

// redact returns rawURL with any password replaced (url.URL.Redacted), for
// logs; a URL that does not parse is reduced to a placeholder.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Ask posts r and returns the answer stream once the service has answered
// 200 with a text/event-stream body. The caller must Close the stream.
// ctx bounds the whole question, reading included: its deadline ends the
// stream with CodeTimeout. Errors are *Error: CodeUnavailable (refused,
// unreachable, non-200 with the status in the message, not an event
// stream) or CodeTimeout.
func (c *Client) Ask(ctx context.Context, r Request) (*Stream, error) {
	body, err := encodeRequest(r, c.sysInfo)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Err: err}
	}
	sctx, cancel := context.WithCancelCause(ctx)
	s := &Stream{ctx: sctx, cancel: cancel, idle: c.t.Idle, firstEvent: c.t.FirstEvent}
	if c.t.FirstEvent > 0 {
		s.firstBy = time.Now().Add(c.t.FirstEvent)
		s.firstTimer = time.AfterFunc(c.t.FirstEvent, func() {
			cancel(fmt.Errorf("%w (%s)", errFirstEventStall, c.t.FirstEvent))
		})
	}
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		s.stop(errClosed)
		return nil, &Error{Code: CodeUnavailable, Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		err = s.classify(err, CodeUnavailable)
		s.stop(errClosed)
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		s.stop(errClosed)
		return nil, &Error{Code: CodeUnavailable, Err: fmt.Errorf("POST %s: status %d", c.redacted, resp.StatusCode)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		s.stop(errClosed)
		return nil, &Error{Code: CodeUnavailable,
			Err: fmt.Errorf("POST %s: content type %q, want text/event-stream", c.redacted, resp.Header.Get("Content-Type"))}
	}
	if s.firstTimer != nil && !s.firstTimer.Stop() {
		// Fired as the headers came: no event by the first-event deadline.
		resp.Body.Close()
		err := s.classify(context.Cause(sctx), CodeTimeout)
		s.stop(errClosed)
		return nil, err
	}
	s.body = resp.Body
	s.results = make(chan result)
	go s.read(NewReader(resp.Body))
	return s, nil
}

// Stream is one answer being read. It is not safe for concurrent use: to
// abort a Next in progress from elsewhere, cancel the context given to Ask.
//
// A goroutine reads the body ahead by at most one event; Next waits for
// its next result with the first-event or idle bound as a timer of its
// own. A stall is decided only when Next finds no event waiting when the
// bound runs out, so an event that arrives as the timer fires is never
// taken for a stall.
type Stream struct {
	ctx        context.Context
	cancel     context.CancelCauseFunc
	body       io.ReadCloser
	results    chan result // from read; unbuffered
	idle       time.Duration
	firstEvent time.Duration
	firstBy    time.Time   // first-event deadline; zero without one
	firstTimer *time.Timer // bounds the wait for the headers; stopped when they came
	wait       *time.Timer // Next's bound, reused
	gotFirst   bool
	skipped    int
	err        error // sticky terminal result
}

// result is one outcome of the reader goroutine.
type result struct {
	ev      Event
	err     error
	skipped int
}

// read runs the Reader until it fails or ends, handing each result to
// Next; it returns when the stream's context ends (Close, a stall, the
// caller's deadline).
func (s *Stream) read(r *Reader) {
	for {
		ev, err := r.Next()
		select {
		case s.results <- result{ev, err, r.Skipped()}:
		case <-s.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// testHookWait, when set, runs in Next after its bound is armed and
// before it waits: tests use it to make the bound run out while an event
// is already waiting.
var testHookWait func()

// Next returns the next event, empty deltas included, in order. It returns
// io.EOF after [DONE] or after the event marked isComplete (whose delta is
// part of the answer). Otherwise it fails with an *Error: CodeTimeout for a
// first-event or idle stall or the context deadline, CodeInterrupted when
// the stream ends or breaks first. The end and errors are sticky.
func (s *Stream) Next() (Event, error) {
	if s.err != nil {
		return Event{}, s.err
	}
	var bound <-chan time.Time
	var stall error
	switch {
	case !s.gotFirst && !s.firstBy.IsZero():
		bound = s.arm(time.Until(s.firstBy))
		stall = fmt.Errorf("%w (%s)", errFirstEventStall, s.firstEvent)
	case s.gotFirst && s.idle > 0:
		bound = s.arm(s.idle)
		stall = fmt.Errorf("%w (%s)", errIdleStall, s.idle)
	}
	if testHookWait != nil {
		testHookWait()
	}
	var res result
	select {
	case res = <-s.results:
	case <-bound:
		select {
		case res = <-s.results: // it arrived as the bound ran out: not a stall
		default:
			s.err = &Error{Code: CodeTimeout, Err: stall}
			s.stop(stall)
			return Event{}, s.err
		}
	case <-s.ctx.Done():
		select {
		case res = <-s.results:
		default:
			s.err = s.classify(context.Cause(s.ctx), CodeInterrupted)
			s.stop(errClosed)
			return Event{}, s.err
		}
	}
	if s.wait != nil {
		s.wait.Stop()
	}
	s.skipped = res.skipped
	switch {
	case res.err == nil:
		s.gotFirst = true
		return res.ev, nil
	case res.err == io.EOF:
		s.err = io.EOF
	default:
		s.err = s.classify(res.err, CodeInterrupted)
	}
	s.stop(errClosed)
	return Event{}, s.err
}

// arm starts Next's bound of d and returns its channel.
func (s *Stream) arm(d time.Duration) <-chan time.Time {
	if s.wait == nil {
		s.wait = time.NewTimer(d)
	} else {
		s.wait.Reset(d)
	}
	return s.wait.C
}

// Skipped reports how many malformed payloads or over-long lines were
// skipped so far.
func (s *Stream) Skipped() int { return s.skipped }

// Close releases the connection. It is safe to call more than once and
// after Next has returned an error.
func (s *Stream) Close() error {
	s.stop(errClosed)
	return s.body.Close()
}

// stop stops the watchdogs and cancels the request.
func (s *Stream) stop(cause error) {
	if s.firstTimer != nil {
		s.firstTimer.Stop()
	}
	if s.wait != nil {
		s.wait.Stop()
	}
	s.cancel(cause)
}

// classify maps a failure to an *Error: a watchdog firing, the context
// deadline or a network timeout is CodeTimeout; anything else is code.
func (s *Stream) classify(err error, code string) error {
	if s.ctx.Err() != nil {
		cause := context.Cause(s.ctx)
		switch {
		case errors.Is(cause, errFirstEventStall), errors.Is(cause, errIdleStall),
			errors.Is(cause, context.DeadlineExceeded):
			return &Error{Code: CodeTimeout, Err: cause}
		default:
			return &Error{Code: code, Err: cause}
		}
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return &Error{Code: CodeTimeout, Err: err}
	}
	return &Error{Code: code, Err: err}
}
