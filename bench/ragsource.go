package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// koreanPieces are the deltas of the scripted answer, cycled: short Korean
// pieces with the spaces and punctuation a model streams.
var koreanPieces = []string{
	"관리비는", " 매월", " 25일에", " 부과되며", ",", " 자동이체", "로", " 납부", "하실", " 수", " 있습니다", ".",
	" 주차", "는", " 세대당", " 1대", "까지", " 무료", "이고", ",", " 추가", " 차량", "은", " 월", " 2만", "원", "입니다", ".\n",
}

// ScriptedAnswer returns n deltas of Korean text.
func ScriptedAnswer(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = koreanPieces[i%len(koreanPieces)]
	}
	return out
}

// Script is a RAG service that streams a fixed answer at a fixed pace,
// framed as the trace frames it: an opening empty event, one event per
// delta Pace apart (the first one Pace after the opening), a final
// isComplete event and "data: [DONE]", each line flushed at once. It
// schedules events on absolute times, so the pace does not drift.
type Script struct {
	Deltas []string
	Pace   time.Duration
}

// ServeHTTP answers POST /v1/chatbot/ask.
func (s Script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chatbot/ask" {
		http.NotFound(w, r)
		return
	}
	var req askRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	event := func(delta string, complete bool) error {
		d, _ := json.Marshal(delta) // a string always marshals
		line := fmt.Sprintf("data: {\"sessionId\": %q, \"delta\": %s, \"isComplete\": %t}\n", req.Meta.SessionID, d, complete)
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
		return rc.Flush()
	}
	start := time.Now()
	if event("", false) != nil {
		return
	}
	for i, d := range s.Deltas {
		if wait := time.Until(start.Add(time.Duration(i+1) * s.Pace)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if event(d, false) != nil {
			return
		}
	}
	if event("", true) != nil {
		return
	}
	_, _ = io.WriteString(w, "data: [DONE]\n")
	_ = rc.Flush()
}

// askRequest is the part of the RAG request the benchmarks read.
type askRequest struct {
	Chat struct {
		Message string `json:"message"`
	} `json:"chat"`
	Meta struct {
		SessionID string `json:"sessionId"`
	} `json:"meta"`
}

// Emission is what a RAG service sent for one question, with the time
// each part left it (when the service wrote its line).
type Emission struct {
	SessionID  string
	Question   string
	Started    time.Time // request received
	FirstDelta time.Time // first event with a non-empty delta
	End        time.Time // the first isComplete event or "data: [DONE]", or the handler's return
	Text       string    // the deltas concatenated
	Deltas     int       // events with a non-empty delta
}

// Recorder wraps a RAG service and records, per session, what it emitted
// and when. Take hands out the emissions of a session in request order.
type Recorder struct {
	mu      sync.Mutex
	next    http.Handler
	done    map[string][]Emission
	waiters map[string]chan struct{}
}

// NewRecorder returns a Recorder in front of next.
func NewRecorder(next http.Handler) *Recorder {
	return &Recorder{next: next, done: map[string][]Emission{}, waiters: map[string]chan struct{}{}}
}

// SetBackend replaces the RAG service behind the recorder.
func (rec *Recorder) SetBackend(next http.Handler) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.next = next
}

// ServeHTTP records the request's session and question, then the lines
// the backend writes.
func (rec *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req askRequest
	_ = json.Unmarshal(body, &req) // the backend judges the request
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec.mu.Lock()
	next := rec.next
	rec.mu.Unlock()
	tw := &tapWriter{ResponseWriter: w, em: Emission{SessionID: req.Meta.SessionID, Question: req.Chat.Message, Started: time.Now()}}
	next.ServeHTTP(tw, r)
	tw.finish(time.Now())
	rec.mu.Lock()
	defer rec.mu.Unlock()
	id := tw.em.SessionID
	rec.done[id] = append(rec.done[id], tw.em)
	if ch, ok := rec.waiters[id]; ok {
		close(ch)
		delete(rec.waiters, id)
	}
}

// Take returns the oldest emission of session not taken yet, waiting up to
// timeout for it to end.
func (rec *Recorder) Take(session string, timeout time.Duration) (Emission, error) {
	deadline := time.Now().Add(timeout)
	for {
		rec.mu.Lock()
		if list := rec.done[session]; len(list) > 0 {
			em := list[0]
			rec.done[session] = list[1:]
			rec.mu.Unlock()
			return em, nil
		}
		ch, ok := rec.waiters[session]
		if !ok {
			ch = make(chan struct{})
			rec.waiters[session] = ch
		}
		rec.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return Emission{}, fmt.Errorf("no RAG answer for session %s within %s", session, timeout)
		}
		t := time.NewTimer(left)
		select {
		case <-ch:
			t.Stop()
		case <-t.C:
		}
	}
}

// tapWriter parses the SSE lines passing through it. A line counts as
// emitted when the handler writes it (the sources here flush every line
// right after writing it); a last line without a line end counts when the
// handler returns.
type tapWriter struct {
	http.ResponseWriter
	em      Emission
	text    strings.Builder
	partial []byte // an unterminated line
}

func (t *tapWriter) Write(p []byte) (int, error) {
	now := time.Now()
	n, err := t.ResponseWriter.Write(p)
	t.partial = append(t.partial, p[:n]...)
	for {
		i := bytes.IndexAny(t.partial, "\r\n")
		if i < 0 {
			break
		}
		t.line(t.partial[:i], now)
		t.partial = t.partial[i+1:]
	}
	return n, err
}

// Flush implements http.Flusher.
func (t *tapWriter) Flush() {
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the real writer.
func (t *tapWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// finish takes a last unterminated line as written at now.
func (t *tapWriter) finish(now time.Time) {
	if len(t.partial) > 0 {
		t.line(t.partial, now)
		t.partial = nil
	}
	t.em.Text = t.text.String()
	if t.em.End.IsZero() {
		t.em.End = now
	}
}

// line records one SSE line written at now.
func (t *tapWriter) line(l []byte, now time.Time) {
	v, ok := bytes.CutPrefix(l, []byte("data:"))
	if !ok {
		return
	}
	v = bytes.TrimPrefix(v, []byte(" "))
	if string(v) == "[DONE]" {
		t.end(now)
		return
	}
	var ev struct {
		Delta      string `json:"delta"`
		IsComplete bool   `json:"isComplete"`
	}
	if json.Unmarshal(v, &ev) != nil {
		return
	}
	if ev.Delta != "" {
		if t.em.FirstDelta.IsZero() {
			t.em.FirstDelta = now
		}
		t.text.WriteString(ev.Delta)
		t.em.Deltas++
	}
	if ev.IsComplete {
		t.end(now)
	}
}

// end records the end of the stream: the first isComplete event or
// "[DONE]", whichever comes first (a client may stop reading at either).
func (t *tapWriter) end(now time.Time) {
	if t.em.End.IsZero() {
		t.em.End = now
	}
}
