package rag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// guard bounds what must never hang; it is a deadlock guard, not a
// timing assertion.
const guard = 10 * time.Second

// traceRequest is the trace's question, with the user name in correct
// UTF-8 where the trace shows mojibake.
var traceRequest = Request{
	Message:    "책은 어떤 재료로 만듭니까?",
	CompanyID:  "apt001",
	SessionID:  "room-d2dc543d",
	UserName:   "고객-4449",
	UseHistory: true,
}

func TestEncodeRequest_ByteCompatibleWithTrace(t *testing.T) {
	want := readTestdata(t, "trace-request.json")
	got, err := encodeRequest(traceRequest, "DEFAULT_RAG")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
}

func TestEncodeRequest_TextIsNotEscaped(t *testing.T) {
	r := Request{Message: `<b>"A&B"</b>` + "\n", Category1: "관리비", UserName: "홍길동", UseHistory: false}
	got, err := encodeRequest(r, "X")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"chat":{"message":"<b>\"A&B\"</b>\n","stream":true,"useHistory":false},` +
		`"meta":{"category1":"관리비","category2":"","companyId":"","sessionId":"","userId":"홍길동","ragSysInfo":"X"}}`
	if string(got) != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
}

// sseServer answers every request with handler, and closes release before
// shutting down so stalled handlers return.
func sseServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, release <-chan struct{})) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(w, r, release)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL
}

func eventStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

func send(w http.ResponseWriter, s string) {
	io.WriteString(w, s)
	w.(http.Flusher).Flush()
}

func stall(r *http.Request, release <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-release:
	}
}

// collect reads s to its end.
func collect(t *testing.T, s *Stream) ([]Event, error) {
	t.Helper()
	var evs []Event
	for range 1 << 16 {
		ev, err := s.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	t.Fatal("stream never ended")
	return nil, nil
}

func TestAsk_SendsTraceRequestAndReadsTraceAnswer(t *testing.T) {
	wantBody := readTestdata(t, "trace-request.json")
	response := readTestdata(t, "trace-response.txt")
	type seen struct {
		method, path, contentType, accept string
		body                              []byte
	}
	got := make(chan seen, 1)
	url := sseServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"), body}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Write(response)
	})
	c := NewClient(url+"/", "DEFAULT_RAG", Timeouts{Connect: guard, FirstEvent: guard, Idle: guard}, nil)
	s, err := c.Ask(context.Background(), traceRequest)
	if err != nil {
		t.Fatalf("Ask: %v", err)
	}
	defer s.Close()
	evs, err := collect(t, s)
	if err != io.EOF {
		t.Fatalf("end = %v, want io.EOF", err)
	}
	if a := answerOf(evs); a != traceAnswer {
		t.Errorf("answer = %q, want %q", a, traceAnswer)
	}
	req := <-got
	if req.method != http.MethodPost || req.path != "/v1/chatbot/ask" ||
		req.contentType != "application/json" || req.accept != "text/event-stream" {
		t.Errorf("request %s %s Content-Type %q Accept %q", req.method, req.path, req.contentType, req.accept)
	}
	if !bytes.Equal(req.body, wantBody) {
		t.Errorf("body\n%s\nwant\n%s", req.body, wantBody)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// timeoutDialer fails every dial as a dial timeout does.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestAsk_Failures(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}
	// Each stall case makes only the bound under test short, so a slow
	// machine cannot trip another one first.
	firstTight := Timeouts{Connect: guard, FirstEvent: 100 * time.Millisecond, Idle: guard}
	idleTight := Timeouts{Connect: guard, FirstEvent: guard, Idle: 100 * time.Millisecond}
	loose := Timeouts{Connect: guard, FirstEvent: guard, Idle: guard}
	tests := []struct {
		name     string
		url      func(t *testing.T) string // when serve is nil
		serve    func(w http.ResponseWriter, r *http.Request, release <-chan struct{})
		timeouts Timeouts
		hc       *http.Client
		ctx      func() (context.Context, context.CancelFunc)
		askCode  string   // the code Ask fails with, or "" when it succeeds
		events   []string // deltas before the end
		endCode  string   // the code Next ends with, "" for io.EOF
		skipped  int
		inErr    string // a substring of the error text
	}{
		{name: "connection refused", url: func(*testing.T) string { return refused() }, timeouts: loose,
			askCode: CodeUnavailable},
		{name: "dial timeout", url: func(*testing.T) string { return "http://127.0.0.1:9" }, timeouts: loose,
			hc: &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
			}}},
			askCode: CodeTimeout},
		{name: "status 500", timeouts: loose, serve: func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, askCode: CodeUnavailable, inErr: "status 500"},
		{name: "status 200 with a JSON body", timeouts: loose, serve: func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"answer":"x"}`)
		}, askCode: CodeUnavailable, inErr: "application/json"},
		{name: "stall before the headers", timeouts: firstTight, serve: func(_ http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			stall(r, release)
		}, askCode: CodeTimeout, inErr: "first-event"},
		{name: "stall before the first event", timeouts: firstTight, serve: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			eventStream(w)
			send(w, ": ping\n")
			stall(r, release)
		}, endCode: CodeTimeout, inErr: "first-event"},
		{name: "stall mid-stream", timeouts: idleTight, serve: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a"), data("b")))
			stall(r, release)
		}, events: []string{"a", "b"}, endCode: CodeTimeout, inErr: "idle"},
		{name: "keep-alives do not hide a stall", timeouts: idleTight, serve: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a")))
			for {
				select {
				case <-r.Context().Done():
					return
				case <-release:
					return
				case <-time.After(10 * time.Millisecond):
					send(w, ": ping\n")
				}
			}
		}, events: []string{"a"}, endCode: CodeTimeout, inErr: "idle"},
		{name: "context deadline before the headers", timeouts: loose,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			serve: func(_ http.ResponseWriter, r *http.Request, release <-chan struct{}) {
				stall(r, release)
			}, askCode: CodeTimeout, inErr: "deadline"},
		{name: "EOF before DONE", timeouts: loose, serve: func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a"), data("b")))
		}, events: []string{"a", "b"}, endCode: CodeInterrupted},
		{name: "connection dropped mid-stream", timeouts: loose, serve: func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a")))
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, events: []string{"a"}, endCode: CodeInterrupted},
		{name: "malformed lines among good ones", timeouts: loose, serve: func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a"), "data: {oops", data("b"), "data: <html>", data("c"), "data: [DONE]"))
		}, events: []string{"a", "b", "c"}, skipped: 2},
		{name: "1 MiB line", timeouts: loose, serve: func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a"), data(strings.Repeat("나", 1<<20/3)), final("!")))
		}, events: []string{"a", strings.Repeat("나", 1<<20/3), "!"}},
		{name: "zero timeouts disable the watchdogs", timeouts: Timeouts{}, serve: func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a")))
			send(w, lines(data("b"), "data: [DONE]"))
		}, events: []string{"a", "b"}},
		{name: "final event with text and no DONE", timeouts: idleTight, serve: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			eventStream(w)
			send(w, lines(data("a"), final("b")))
			stall(r, release)
		}, events: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			var url string
			if tt.serve != nil {
				url = sseServer(t, tt.serve)
			} else {
				url = tt.url(t)
			}
			c := NewClient(url, "DEFAULT_RAG", tt.timeouts, tt.hc)
			s, err := c.Ask(ctx, traceRequest)
			if tt.askCode != "" {
				if s != nil {
					s.Close()
				}
				checkErr(t, "Ask", err, tt.askCode, tt.inErr)
				return
			}
			if err != nil {
				t.Fatalf("Ask: %v", err)
			}
			defer s.Close()
			evs, err := collect(t, s)
			var deltas []string
			for _, e := range evs {
				deltas = append(deltas, e.Delta)
			}
			if strings.Join(deltas, "|") != strings.Join(tt.events, "|") {
				t.Errorf("deltas %q, want %q", deltas, tt.events)
			}
			if tt.endCode == "" {
				if err != io.EOF {
					t.Errorf("end = %v, want io.EOF", err)
				}
			} else {
				checkErr(t, "Next", err, tt.endCode, tt.inErr)
			}
			if s.Skipped() != tt.skipped {
				t.Errorf("Skipped() = %d, want %d", s.Skipped(), tt.skipped)
			}
			if _, again := s.Next(); again != err {
				t.Errorf("Next after the end = %v, want the same %v", again, err)
			}
		})
	}
}

func checkErr(t *testing.T, op string, err error, code, substr string) {
	t.Helper()
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("%s error %v (%T), want *Error %s", op, err, err, code)
	}
	if re.Code != code {
		t.Errorf("%s code %s (%v), want %s", op, re.Code, err, code)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("%s error %q does not mention %q", op, err, substr)
	}
}

// expiringCtx is a context whose deadline passes when the test says so.
type expiringCtx struct {
	context.Context
	done chan struct{}
}

func (c expiringCtx) Done() <-chan struct{} { return c.done }

func (c expiringCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// stalledAfterA asks with ctx a server that sends the event "a" and then
// stalls, and returns the stream with "a" read; it is closed when t ends.
func stalledAfterA(t *testing.T, ctx context.Context) *Stream {
	t.Helper()
	url := sseServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
		eventStream(w)
		send(w, lines(data("a")))
		stall(r, release)
	})
	s, err := NewClient(url, "DEFAULT_RAG", Timeouts{Connect: guard, FirstEvent: guard, Idle: guard}, nil).Ask(ctx, traceRequest)
	if err != nil {
		t.Fatalf("Ask: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if ev, err := s.Next(); err != nil || ev.Delta != "a" {
		t.Fatalf("first event %+v, %v; want a", ev, err)
	}
	return s
}

func TestStream_ContextDeadlineMidStreamIsTimeout(t *testing.T) {
	ctx := expiringCtx{Context: context.Background(), done: make(chan struct{})}
	s := stalledAfterA(t, ctx)
	close(ctx.done)
	_, err := s.Next()
	checkErr(t, "Next", err, CodeTimeout, "deadline")
}

func TestStream_CallerCancelIsInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stalledAfterA(t, ctx)
	cancel()
	_, err := s.Next()
	checkErr(t, "Next", err, CodeInterrupted, "canceled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func TestStream_AnEventWaitingWhenTheIdleBoundRunsOutIsNotAStall(t *testing.T) {
	url := sseServer(t, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		eventStream(w)
		send(w, "data: {\"delta\":\"a\"}\n\ndata: {\"delta\":\"b\"}\n\ndata: {\"delta\":\"c\"}\n\ndata: [DONE]\n\n")
	})
	c := NewClient(url, "DEFAULT_RAG", Timeouts{Connect: guard, FirstEvent: guard, Idle: 20 * time.Millisecond}, nil)
	// Every wait starts only after its bound has run out, with the next
	// event already read: the timer and the event are both ready.
	testHookWait = func() { time.Sleep(40 * time.Millisecond) }
	t.Cleanup(func() { testHookWait = nil })
	for i := range 20 { // select picks at random among ready cases
		s, err := c.Ask(context.Background(), traceRequest)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := collect(t, s)
		s.Close()
		if err != io.EOF || answerOf(evs) != "abc" {
			t.Fatalf("run %d: %q then %v; want abc then EOF", i, answerOf(evs), err)
		}
	}
}

const testBearer = "rag-bearer-s3cr3t-0123456789"

func TestAsk_SendsTheBearerOnEveryAsk(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"delta\":\"ok\",\"isComplete\":true}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil).WithBearer(testBearer)
	for range 2 {
		s, err := c.Ask(context.Background(), traceRequest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := collect(t, s); err != io.EOF {
			t.Fatal(err)
		}
		s.Close()
	}
	if len(got) != 2 || got[0] != "Bearer "+testBearer || got[1] != got[0] {
		t.Fatalf("Authorization headers %q, want the bearer on both asks", got)
	}
	// Without a bearer, no header at all.
	got = nil
	s, err := NewClient(srv.URL, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil).Ask(context.Background(), traceRequest)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(got) != 1 || got[0] != "" {
		t.Fatalf("Authorization without a bearer: %q", got)
	}
}

func TestAsk_ErrorsNameTheURLRedactedAndNeverTheBearer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testBearer {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	withUser := strings.Replace(srv.URL, "http://", "http://svc:hunter2-pw@", 1)
	for _, c := range []*Client{
		NewClient(withUser, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil).WithBearer(testBearer),
		NewClient(withUser, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil),
	} {
		_, err := c.Ask(context.Background(), traceRequest)
		if err == nil {
			t.Fatal("Ask succeeded against a failing service")
		}
		msg := err.Error()
		if strings.Contains(msg, "hunter2-pw") || strings.Contains(msg, testBearer) || !strings.Contains(msg, "svc:xxxxx@") {
			t.Fatalf("error %q: want the URL with its password redacted and no bearer", msg)
		}
	}
	if got := redact("https://u:p@rag.example/v1"); got != "https://u:xxxxx@rag.example/v1" {
		t.Fatalf("redact = %q", got)
	}
}
