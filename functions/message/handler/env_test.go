package handler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
	"github.com/ragchat/ragchat/shared/store"
)

// The seed trace's question, room and (unmangled) user name.
const (
	traceQuestion = "책은 어떤 재료로 만듭니까?"
	traceRoom     = "room-d2dc543d"
	traceUserName = "고객-4449"
	traceCompany  = "apt001"
	callerID      = "R1kmxc2VNjMCFIA="
)

// traceRequest is the RAG request body of the seed trace, with the user
// name in correct UTF-8.
const traceRequest = `{"chat":{"message":"책은 어떤 재료로 만듭니까?","stream":true,"useHistory":true},` +
	`"meta":{"category1":"","category2":"","companyId":"apt001","sessionId":"room-d2dc543d","userId":"고객-4449","ragSysInfo":"DEFAULT_RAG"}}`

// traceDeltas are the deltas of the seed trace's answer, first empty one included.
var traceDeltas = []string{"", "책", " 재", "료", " 생산", "과", " 관련된", " 자세", "한", " 정보", "는", " 현재",
	" 확인", "이", " 어려운", " 점", " 양", "해", " 부탁", "드립니다", ".", " 보다", " 정확", "한", " 안내", "를",
	" 위해", " 고객", "센터", "([", "고", "객", "센터", " 연락", "처", "])", " 또는", " 관련", " 부", "서", "([",
	"담당", " 부", "서", " 연락", "처", "])", "로", " 문의", "해주", "시면", " 감사", "하겠습니다", ".", "\n"}

var traceAnswer = strings.Join(traceDeltas, "")

// ragMode is how the test RAG server answers.
type ragMode int

const (
	ragTrace         ragMode = iota // the trace's answer, one write per event, then [DONE]
	ragRefused                      // nothing listens
	ragStatus500                    // 500 with a JSON error body
	ragJSONBody                     // 200 with application/json
	ragStallFirst                   // headers, then nothing
	ragStallMid                     // a few events, then nothing
	ragEOFBeforeDone                // a few events, then the body ends
	ragEndless                      // an event every few ms, never ending
	ragPaced                        // the trace's answer over about pacedAnswer, then [DONE]
	ragGated                        // gatedFirst, then, once released, gatedRest and the ending
)

// What a ragGated answer sends before and after its release.
const (
	gatedFirst = "첫 부분"
	gatedRest  = " 끝 부분"
)

// pacedAnswer is how long a ragPaced answer takes.
const pacedAnswer = 400 * time.Millisecond

// partialDeltas is what the modes that break mid-stream send first.
var partialDeltas = traceDeltas[:6]

// ragServer is a test RAG service on loopback.
type ragServer struct {
	URL  string
	stop chan struct{} // closed at cleanup: stalled handlers return

	first       chan struct{} // closed once a ragGated answer's first part is out
	firstOnce   sync.Once
	released    chan struct{} // closed by release
	releaseOnce sync.Once

	mu       sync.Mutex
	mode     ragMode
	requests []string
}

func newRAGServer(t *testing.T, mode ragMode) *ragServer {
	s := &ragServer{mode: mode, stop: make(chan struct{}), first: make(chan struct{}), released: make(chan struct{})}
	if mode == ragRefused {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.URL = "http://" + l.Addr().String()
		l.Close()
		return s
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() { close(s.stop); srv.Close() })
	s.URL = srv.URL
	return s
}

// release lets ragGated answers send the rest of their answer.
func (s *ragServer) release() { s.releaseOnce.Do(func() { close(s.released) }) }

// setMode changes how later requests are answered.
func (s *ragServer) setMode(m ragMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

func (s *ragServer) bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func sseEvent(delta string, complete bool) string {
	return fmt.Sprintf("data: {\"sessionId\": %q, \"delta\": %q, \"isComplete\": %v}\n", traceRoom, delta, complete)
}

func (s *ragServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, string(body))
	mode := s.mode
	s.mu.Unlock()
	if r.URL.Path != "/v1/chatbot/ask" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	switch mode {
	case ragStatus500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"detail":"Internal Server Error"}`)
		return
	case ragJSONBody:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"answer":"not a stream"}`)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flush := func() { w.(http.Flusher).Flush() }
	flush()
	switch mode {
	case ragTrace:
		for _, d := range traceDeltas {
			io.WriteString(w, sseEvent(d, false))
			flush()
		}
		io.WriteString(w, sseEvent("", true)+"data: [DONE]\n")
	case ragPaced: // eight bursts of deltas, pacedAnswer/8 apart
		gap := pacedAnswer / 8
		for i, d := range traceDeltas {
			io.WriteString(w, sseEvent(d, false))
			if (i+1)%((len(traceDeltas)+7)/8) != 0 {
				continue
			}
			flush()
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, sseEvent("", true)+"data: [DONE]\n")
	case ragGated:
		io.WriteString(w, sseEvent(gatedFirst, false))
		flush()
		s.firstOnce.Do(func() { close(s.first) })
		select {
		case <-s.released:
		case <-s.stop:
			return
		}
		io.WriteString(w, sseEvent(gatedRest, false)+sseEvent("", true)+"data: [DONE]\n")
	case ragStallFirst:
		s.wait(r)
	case ragStallMid, ragEOFBeforeDone:
		for _, d := range partialDeltas {
			io.WriteString(w, sseEvent(d, false))
		}
		flush()
		if mode == ragStallMid {
			s.wait(r)
		}
	case ragEndless:
		for {
			io.WriteString(w, sseEvent("가", false))
			flush()
			select {
			case <-time.After(5 * time.Millisecond):
			case <-r.Context().Done():
				return
			case <-s.stop:
				return
			}
		}
	}
}

func (s *ragServer) wait(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.stop:
	}
}

// env is a message function with everything it talks to: DynamoDB (a real
// server through testkit), a test RAG service and a test @connections
// endpoint, and a room with the caller's connection.
type env struct {
	t      *testing.T
	tables store.Tables
	store  *store.Store
	ws     *relaytest.Endpoint
	rag    *ragServer
	h      *Handler
}

// quiet drops the handler's logs in tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testTimeouts keep the stall tests short.
var testTimeouts = rag.Timeouts{Connect: time.Second, FirstEvent: 300 * time.Millisecond, Idle: 300 * time.Millisecond}

func newEnv(t *testing.T, mode ragMode, dbOpts ...func(*dynamodb.Options)) *env {
	t.Helper()
	st, tables := testkit.Store(t, dbOpts...)
	e := &env{t: t, tables: tables, store: st, ws: relaytest.NewEndpoint(t), rag: newRAGServer(t, mode)}
	e.h = &Handler{
		Conns:          e.store,
		History:        e.store,
		Rooms:          e.store,
		Users:          e.store,
		JoinInterval:   50 * time.Millisecond,
		Limits:         Limits{Store: e.store, Questions: store.Bucket{Burst: 30, Refill: 6 * time.Second}},
		RAG:            rag.NewClient(e.rag.URL, "DEFAULT_RAG", testTimeouts, nil),
		Poster:         func(string) relay.Poster { return e.ws.Client() },
		CallbackURL:    e.ws.URL,
		Relay:          relay.Options{Backoff: relay.Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond}},
		DeadlineMargin: 100 * time.Millisecond,
		Log:            quiet,
	}
	now := time.Now()
	if err := e.store.CreateRoom(context.Background(), store.Room{
		RoomID: traceRoom, CompanyID: traceCompany, UserID: "hong2", RoomName: "hong2", Members: []string{},
		Status: "BOT", CreatedAt: now.UnixMilli(), LastActivityAt: now.UnixMilli() - 60_000,
	}); err != nil {
		t.Fatal(err)
	}
	e.connect(callerID, traceRoom, true)
	return e
}

// connect stores a connection of the trace's user in room; live ones are
// also open at the @connections endpoint.
func (e *env) connect(id, room string, live bool) {
	e.t.Helper()
	if err := e.tryConnect(id, room, live); err != nil {
		e.t.Fatal(err)
	}
}

// tryConnect is connect for any goroutine: it returns the error.
func (e *env) tryConnect(id, room string, live bool) error {
	now := time.Now()
	if err := e.store.PutConnection(context.Background(), store.Connection{
		ConnectionID: id, RoomID: room, UserID: "hong2", UserName: traceUserName, CompanyID: traceCompany,
		ConnectedAt: now.UnixMilli(), ExpiresAt: now.Add(2 * time.Hour).Unix(),
	}); err != nil {
		return err
	}
	if live {
		e.ws.Open(id)
	}
	return nil
}

// eventFrom is event from the connection id.
func eventFrom(id, route, body string) events.APIGatewayWebsocketProxyRequest {
	ev := event(route, body)
	ev.RequestContext.ConnectionID = id
	return ev
}

// event is a MESSAGE event of route from the caller.
func event(route, body string) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: route, EventType: "MESSAGE", MessageDirection: "IN", Stage: "prod",
			ConnectionID: callerID, DomainName: "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
			RequestID: "R1knPH17NjMFftw=", APIID: "dl7ptocha9", ConnectedAt: time.Now().UnixMilli(),
		},
	}
}

func ask(message string) string {
	return fmt.Sprintf(`{"action":"sendMessage","message":%q,"category1":"","category2":""}`, message)
}

// handle runs the handler on ev with ctx, checking the response.
func (e *env) handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) {
	e.t.Helper()
	resp, err := e.h.Handle(ctx, ev)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("Handle = %d, %v; want 200, nil", resp.StatusCode, err)
	}
}

// transcripts returns the answers id received, in arrival order, checking
// the client contract: one answer at a time, each ended and without
// repeated frames.
func (e *env) transcripts(id string) []*wsclient.Answer {
	e.t.Helper()
	var as wsclient.Answers
	var prev *wsclient.Answer
	for i, raw := range e.ws.Frames(id) {
		f, err := wsclient.Envelope(raw)
		if err != nil {
			e.t.Fatalf("connection %s frame %d: %v", id, i, err)
		}
		a, err := as.Add(f)
		if err != nil {
			e.t.Fatalf("connection %s frame %d: %v", id, i, err)
		}
		if prev != nil && a != prev && !prev.Ended() {
			e.t.Fatalf("connection %s frame %d: answer %s interleaved into %s", id, i, f.MessageID, prev.MessageID)
		}
		prev = a
	}
	for _, a := range as.List() {
		if !a.Ended() || a.Duplicates != 0 {
			e.t.Fatalf("connection %s: answer %s of %d frames, ended %v, %d repeated", id, a.MessageID, len(a.Frames), a.Ended(), a.Duplicates)
		}
	}
	return as.List()
}

// only returns the single answer id received.
func (e *env) only(id string) *wsclient.Answer {
	e.t.Helper()
	trs := e.transcripts(id)
	if len(trs) != 1 {
		e.t.Fatalf("connection %s received %d answers, want 1", id, len(trs))
	}
	return trs[0]
}

// history returns the room's messages, oldest first.
func (e *env) history() []store.Message {
	e.t.Helper()
	page, err := e.store.History(context.Background(), traceRoom, 100, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Messages
}

// frames are the frames id received, each checked against its envelope.
func (e *env) frames(id string) []wsclient.Frame {
	e.t.Helper()
	var out []wsclient.Frame
	for i, raw := range e.ws.Frames(id) {
		f, err := wsclient.Envelope(raw)
		if err != nil {
			e.t.Fatalf("connection %s frame %d: %v", id, i, err)
		}
		out = append(out, f)
	}
	return out
}

// framesOf are the frames of type typ id received.
func (e *env) framesOf(id, typ string) []wsclient.Frame {
	e.t.Helper()
	var out []wsclient.Frame
	for _, f := range e.frames(id) {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

// lastError is the code of the last error frame id received.
func (e *env) lastError(id string) string {
	e.t.Helper()
	errs := e.framesOf(id, wsclient.TypeError)
	if len(errs) == 0 {
		e.t.Fatalf("connection %s received no error frame", id)
	}
	return errs[len(errs)-1].Code
}

// room is the trace room as stored.
func (e *env) room() store.Room {
	e.t.Helper()
	r, err := e.store.GetRoom(context.Background(), traceRoom)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}
