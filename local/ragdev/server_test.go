package ragdev

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
)

// start serves a Server on loopback; zero PieceDelay means no pauses here.
func start(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.PieceDelay == 0 {
		opts.PieceDelay = -1
	}
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return s, ts
}

// body is the trace's request body.
func body(company, session, message string, useHistory bool) string {
	b, _ := json.Marshal(map[string]any{
		"chat": map[string]any{"message": message, "stream": true, "useHistory": useHistory},
		"meta": map[string]any{"category1": "", "category2": "", "companyId": company,
			"sessionId": session, "userId": "고객-4449", "ragSysInfo": "DEFAULT_RAG"},
	})
	return string(b)
}

func post(t *testing.T, url, contentType, payload string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chatbot/ask", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "text/event-stream")
	return http.DefaultClient.Do(req)
}

// askText posts a question and returns the whole response body.
func askText(t *testing.T, url, session, message string) (*http.Response, string) {
	t.Helper()
	resp, err := post(t, url, "application/json", body("apt001", session, message, true))
	if err != nil {
		t.Fatalf("ask %q: %v", message, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer to %q: %v", message, err)
	}
	return resp, string(b)
}

var eventRE = regexp.MustCompile(`^\{"sessionId": "([^"]*)", "delta": ("(?:[^"\\]|\\.)*"), "isComplete": (true|false)\}$`)

// stream is what a client makes of an SSE body.
type stream struct {
	events    int
	deltas    []string
	answer    string
	complete  bool // an isComplete:true event was seen
	done      bool // data: [DONE] was seen
	malformed int
	comments  int
	fields    int // event:, id:, retry: lines
}

// readStream parses body split at eol, accepting the variations the
// framing faults produce.
func readStream(t *testing.T, body, eol string) stream {
	t.Helper()
	var s stream
	for _, line := range strings.Split(body, eol) {
		switch {
		case line == "":
		case strings.HasPrefix(line, ":"):
			s.comments++
		case strings.HasPrefix(line, "event:"), strings.HasPrefix(line, "id:"), strings.HasPrefix(line, "retry:"):
			s.fields++
		case strings.HasPrefix(line, "data:"):
			data := strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			if data == "[DONE]" {
				s.done = true
				continue
			}
			m := eventRE.FindStringSubmatch(data)
			if m == nil {
				s.malformed++
				continue
			}
			var delta string
			if err := json.Unmarshal([]byte(m[2]), &delta); err != nil {
				t.Fatalf("delta %s: %v", m[2], err)
			}
			s.events++
			s.deltas = append(s.deltas, delta)
			s.answer += delta
			s.complete = s.complete || m[3] == "true"
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	return s
}

func entryAnswer(t *testing.T, company, id string) string {
	t.Helper()
	for _, e := range mustIndex(t, company).kb.Entries {
		if e.ID == id {
			return e.Answer
		}
	}
	t.Fatalf("no entry %s/%s", company, id)
	return ""
}

func TestAsk_StreamsTheAnswerFramedAsTheTrace(t *testing.T) {
	_, ts := start(t, Options{})
	resp, got := askText(t, ts.URL, "room-d2dc543d", "헬스장 몇 시까지 해요?")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream; charset=utf-8",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if v := resp.Header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	answer := entryAnswer(t, "apt001", "gym")
	var want strings.Builder
	want.WriteString(`data: {"sessionId": "room-d2dc543d", "delta": "", "isComplete": false}` + "\n")
	for _, p := range pieces(answer) {
		want.WriteString("data: " + eventJSON("room-d2dc543d", p, false) + "\n")
	}
	want.WriteString(`data: {"sessionId": "room-d2dc543d", "delta": "", "isComplete": true}` + "\n")
	want.WriteString("data: [DONE]\n")
	if got != want.String() {
		t.Fatalf("body:\n%s\nwant:\n%s", got, want.String())
	}
	s := readStream(t, got, "\n")
	if s.answer != answer || !s.complete || !s.done || s.malformed != 0 {
		t.Fatalf("stream %+v does not carry the answer", s)
	}
	if s.deltas[0] != "" || len(s.deltas) < 20 {
		t.Fatalf("want an empty first delta and many pieces, got %d deltas", len(s.deltas))
	}
}

func TestAsk_TraceQuestionGetsTheFallbackWithItsSubject(t *testing.T) {
	_, ts := start(t, Options{})
	_, got := askText(t, ts.URL, "room-d2dc543d", "책은 어떤 재료로 만듭니까?")
	s := readStream(t, got, "\n")
	if want := "책 재료와" + fallbackTail; s.answer != want {
		t.Fatalf("answer %q, want %q", s.answer, want)
	}
}

func TestAsk_NonStreamingRequestGetsOneJSONObject(t *testing.T) {
	_, ts := start(t, Options{})
	payload := strings.Replace(body("apt001", "room-1", "택배 어디서 찾아요", false), `"stream":true`, `"stream":false`, 1)
	resp, err := post(t, ts.URL, "application/json", payload)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		SessionID  string `json:"sessionId"`
		Answer     string `json:"answer"`
		IsComplete bool   `json:"isComplete"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "application/json" || got.SessionID != "room-1" ||
		got.Answer != entryAnswer(t, "apt001", "parcel") || !got.IsComplete {
		t.Fatalf("got %+v (%s)", got, resp.Header.Get("Content-Type"))
	}
}

func TestAsk_RejectsBadRequests(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
	}{
		{"not JSON content type", "text/plain", body("apt001", "r", "질문", true), http.StatusUnsupportedMediaType},
		{"no content type", "", body("apt001", "r", "질문", true), http.StatusUnsupportedMediaType},
		{"malformed JSON", "application/json", `{"chat":`, http.StatusBadRequest},
		{"JSON array", "application/json", `[]`, http.StatusBadRequest},
		{"missing chat", "application/json", `{"meta":{"companyId":"apt001","sessionId":"r"}}`, http.StatusBadRequest},
		{"missing message", "application/json", `{"chat":{},"meta":{"companyId":"apt001","sessionId":"r"}}`, http.StatusBadRequest},
		{"blank message", "application/json", `{"chat":{"message":"  "},"meta":{"companyId":"apt001","sessionId":"r"}}`, http.StatusBadRequest},
		{"message not a string", "application/json", `{"chat":{"message":5},"meta":{"companyId":"apt001","sessionId":"r"}}`, http.StatusBadRequest},
		{"stream not a bool", "application/json", `{"chat":{"message":"a","stream":"yes"},"meta":{"companyId":"apt001","sessionId":"r"}}`, http.StatusBadRequest},
		{"missing meta", "application/json", `{"chat":{"message":"a"}}`, http.StatusBadRequest},
		{"missing company", "application/json", `{"chat":{"message":"a"},"meta":{"sessionId":"r"}}`, http.StatusBadRequest},
		{"missing session", "application/json", `{"chat":{"message":"a"},"meta":{"companyId":"apt001"}}`, http.StatusBadRequest},
		{"invalid UTF-8", "application/json", "{\"chat\":{\"message\":\"\xff\"},\"meta\":{\"companyId\":\"apt001\",\"sessionId\":\"r\"}}", http.StatusBadRequest},
		{"message too long", "application/json", body("apt001", "r", strings.Repeat("가", maxMessageRunes+1), true), http.StatusBadRequest},
		{"body too large", "application/json", body("apt001", "r", strings.Repeat("a", maxBodyBytes), true), http.StatusRequestEntityTooLarge},
		{"bad fault marker", "application/json", body("apt001", "r", "관리비 #fault=explode", true), http.StatusBadRequest},
	}
	_, ts := start(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := post(t, ts.URL, tt.contentType, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Code, Message string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("error body: %v", err)
			}
			if resp.StatusCode != tt.status || e.Code == "" || e.Message == "" {
				t.Fatalf("got %d %+v, want %d with a JSON error", resp.StatusCode, e, tt.status)
			}
		})
	}
	if resp, _ := testkit.Get(t, ts.URL+"/v1/chatbot/ask"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET got %d, want 405", resp.StatusCode)
	}
}

func TestAsk_HistoryIsPerSessionAndOnlyWhenAsked(t *testing.T) {
	s, ts := start(t, Options{})
	ask := func(session, message string, useHistory bool) string {
		resp, err := post(t, ts.URL, "application/json", body("apt001", session, message, useHistory))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return readStream(t, string(b), "\n").answer
	}
	gym := entryAnswer(t, "apt001", "gym")
	ask("room-a", "헬스장 몇 시까지 해요?", true)
	if got := ask("room-a", "요금은요?", true); got != gym {
		t.Errorf("follow-up in the same session: got %.40q, want the gym answer", got)
	}
	if got := ask("room-b", "요금은요?", true); got == gym {
		t.Error("another session saw room-a's topic")
	}
	ask("room-c", "헬스장 몇 시까지 해요?", true)
	if got := ask("room-c", "요금은요?", false); got == gym {
		t.Error("useHistory false still used the history")
	}
	turns := s.History("room-a")
	if len(turns) != 2 || turns[1].Question != "요금은요?" || turns[1].EntryID != "gym" || !turns[1].FollowUp {
		t.Fatalf("history of room-a: %+v", turns)
	}
	_, b := testkit.Get(t, ts.URL+"/_sessions/room-a")
	var got struct {
		SessionID string
		Turns     []Turn
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.SessionID != "room-a" || len(got.Turns) != 2 || got.Turns[1].Answer != gym {
		t.Fatalf("GET /_sessions/room-a = %+v", got)
	}
}

func TestHistory_IsBoundedByTurnsSessionsAndTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := newHistory(2, 2, time.Minute, func() time.Time { return now })
	for _, q := range []string{"1", "2", "3"} {
		h.add("a", Turn{Question: q})
	}
	if got := h.turns("a"); len(got) != 2 || got[0].Question != "2" {
		t.Fatalf("turns kept: %+v", got)
	}
	h.add("b", Turn{Question: "b"})
	h.add("a", Turn{Question: "4"}) // a is now more recently used than b
	h.add("c", Turn{Question: "c"})
	if h.turns("b") != nil || len(h.turns("a")) != 2 || h.len() != 2 {
		t.Fatalf("LRU eviction kept the wrong sessions (%d kept)", h.len())
	}
	now = now.Add(2 * time.Minute)
	if h.turns("a") != nil || h.len() != 0 {
		t.Fatalf("idle sessions not forgotten (%d kept)", h.len())
	}
}
