package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/ragchat/ragchat/internal/browsertest"
	"github.com/ragchat/ragchat/local/ragdev"
)

const fakeToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJob25nMiIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln" // exp 2100

// answerer answers one question on the socket; n counts questions from 1.
type answerer func(ctx context.Context, c *websocket.Conn, n int, question, roomID string) error

// fakeStack serves the page with a fake HTTP API on one origin (as the
// local stack does) and a fake WebSocket API on another.
type fakeStack struct {
	page, ws *httptest.Server
	conns    atomic.Int32
	roomID   string
}

func newFakeStack(t *testing.T, suggestions []string, answer answerer) *fakeStack {
	t.Helper()
	fs := &fakeStack{roomID: "room-0a1b2c3d"}
	var asked atomic.Int32
	fs.ws = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/prod" || q.Get("token") != fakeToken || q.Get("roomId") != fs.roomID {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"127.0.0.1:*"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		fs.conns.Add(1)
		for {
			_, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			var m struct{ Action, Message, Category1, Category2, ClientMessageID string }
			if json.Unmarshal(data, &m) != nil || m.Action != "sendMessage" {
				continue
			}
			ctx := context.WithValue(r.Context(), clientMessageIDKey{}, m.ClientMessageID)
			if err := answer(ctx, c, int(asked.Add(1)), m.Message, fs.roomID); err != nil {
				return
			}
		}
	}))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/customer/{companyId}/login", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ID, Password string }
		if json.NewDecoder(r.Body).Decode(&body) != nil || r.PathValue("companyId") != "apt001" ||
			body.ID != "hong2" || body.Password != "1234" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":"INVALID_CREDENTIALS","message":"invalid company, user or password"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"userId":"hong2","userName":"고객-275b","role":"CUSTOMER","email":"hong2@example.com","token":%q,"roomId":null,"companyId":"apt001"}`, fakeToken)
	})
	mux.HandleFunc("POST /api/customer/chatbot", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"roomId":%q,"roomName":"hong2","members":[],"status":"BOT","assignedAgent":null,"createdAt":1769145304307,"lastActivityAt":1769145304307,"custId":null}`, fs.roomID)
	})
	mux.HandleFunc("GET /api/customer/rooms", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"rooms":[{"roomId":%q,"roomName":"hong2","members":[],"status":"BOT","assignedAgent":null,"createdAt":1769145304307,"lastActivityAt":1769145304307,"custId":null}],"nextCursor":null}`, fs.roomID)
	})
	mux.HandleFunc("GET /api/customer/rooms/{roomId}/messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"roomId":%q,"status":"BOT","messages":[],"nextCursor":null}`, r.PathValue("roomId"))
	})
	mux.Handle("/", Handler(Config{WebSocketURL: "ws" + strings.TrimPrefix(fs.ws.URL, "http") + "/prod", Suggestions: suggestions}))
	fs.page = httptest.NewServer(mux)
	t.Cleanup(func() {
		fs.ws.CloseClientConnections()
		fs.ws.Close()
		fs.page.Close()
	})
	return fs
}

// clientMessageIDKey holds, in an answerer's context, the clientMessageId
// of the question it answers.
type clientMessageIDKey struct{}

// send writes frame; an answer frame gets the clientMessageId of the
// question being answered, as the real server tags it.
func send(ctx context.Context, c *websocket.Conn, frame string) error {
	var f map[string]any
	if id, _ := ctx.Value(clientMessageIDKey{}).(string); id != "" && json.Unmarshal([]byte(frame), &f) == nil {
		if t := f["type"]; t == "delta" || t == "complete" || t == "error" {
			f["clientMessageId"] = id
			b, _ := json.Marshal(f)
			frame = string(b)
		}
	}
	return c.Write(ctx, websocket.MessageText, []byte(frame))
}

func frame(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// splitRunes cuts s into pieces of n runes.
func splitRunes(s string, n int) []string {
	var out []string
	rs := []rune(s)
	for len(rs) > 0 {
		k := min(n, len(rs))
		out = append(out, string(rs[:k]))
		rs = rs[k:]
	}
	return out
}

func TestChatPage_StreamsAnswersInOrderAndShowsErrors(t *testing.T) {
	answers := map[string]string{
		"관리비는 언제까지 내야 하나요?": "관리비는 매월 25일까지 납부해 주시면 됩니다.\n자동이체, 가상계좌, 카드 납부 중에서 고르실 수 있습니다.",
		"주차 등록은요?":          "입주민 차량은 관리사무소에서 바로 등록해 드립니다.\n두 번째 차량은 월 2만 원입니다.",
		"헬스장 요금은요?":         "헬스장 이용 요금은 1인 월 2만 원입니다.",
		"#drop":             "연결이 끊긴 사이의 질문에도 답합니다.",
	}
	var drops atomic.Int32
	answer := func(ctx context.Context, c *websocket.Conn, n int, question, roomID string) error {
		id := fmt.Sprintf("m-%d", n)
		delta := func(seq int, d string) error {
			return send(ctx, c, frame(map[string]any{"type": "delta", "sessionId": roomID, "messageId": id, "seq": seq, "delta": d, "isComplete": false}))
		}
		switch question {
		case "#error":
			if err := delta(1, "잠시만"); err != nil {
				return err
			}
			if err := delta(2, " 기다려"); err != nil {
				return err
			}
			return send(ctx, c, frame(map[string]any{"type": "error", "sessionId": roomID, "messageId": id, "seq": 3,
				"code": "RAG_TIMEOUT", "message": "the answer service did not respond in time", "isComplete": true}))
		case "#drop": // the first time: the socket drops before any answer; the page resends it
			if drops.Add(1) == 1 {
				return c.Close(websocket.StatusGoingAway, "bye")
			}
		}
		text, ok := answers[question]
		if !ok {
			return fmt.Errorf("unexpected question %q", question)
		}
		// API Gateway's own frame, without a type, comes first.
		if err := send(ctx, c, `{"message": "Endpoint request timed out", "connectionId": "abc=", "requestId": "xyz="}`); err != nil {
			return err
		}
		pieces := splitRunes(text, 3)
		order := make([]int, len(pieces))
		for i := range order {
			order[i] = i
		}
		if n == 1 {
			order[1], order[2] = order[2], order[1] // seq 3 arrives before seq 2
		}
		if n == 2 {
			order = append(order[:2], order[3:]...) // seq 3 is lost: complete repairs it
		}
		for _, i := range order {
			if err := delta(i+1, pieces[i]); err != nil {
				return err
			}
		}
		complete := map[string]any{"type": "complete", "sessionId": roomID, "messageId": id, "seq": len(pieces) + 1,
			"delta": "", "isComplete": true, "answer": text}
		if n == 1 {
			delete(complete, "answer") // as for an answer too long to repeat: the seq order alone must be right
		}
		return send(ctx, c, frame(complete))
	}
	fs := newFakeStack(t, nil, answer)
	ctx := browsertest.Chromium(t, 1000, 800)
	errs := browsertest.Exceptions(ctx)
	browsertest.Login(t, ctx, fs.page.URL, "apt001", "hong2", "1234")

	browsertest.Ask(t, ctx, "관리비는 언제까지 내야 하나요?")
	browsertest.Do(t, ctx, "first answer", chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id="m-1"][data-state="done"]`)))
	if got, want := browsertest.TextContent(t, ctx, `li.bot[data-message-id="m-1"] .text`), answers["관리비는 언제까지 내야 하나요?"]; got != want {
		t.Fatalf("first answer %q, want %q", got, want)
	}

	browsertest.Ask(t, ctx, "주차 등록은요?")
	browsertest.Do(t, ctx, "repaired answer", chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id="m-2"][data-state="done"]`)))
	if got, want := browsertest.TextContent(t, ctx, `li.bot[data-message-id="m-2"] .text`), answers["주차 등록은요?"]; got != want {
		t.Fatalf("repaired answer %q, want %q", got, want)
	}

	browsertest.Ask(t, ctx, "#error")
	browsertest.Do(t, ctx, "error frame", chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id="m-3"][data-state="error"]`)))
	if got := browsertest.TextContent(t, ctx, `li.bot[data-message-id="m-3"] .text`); got != "잠시만 기다려" {
		t.Errorf("partial answer before the error %q", got)
	}
	if got := browsertest.TextContent(t, ctx, `li.bot[data-message-id="m-3"] .error-box`); !strings.Contains(got, "RAG_TIMEOUT") ||
		!strings.Contains(got, "did not respond in time") {
		t.Errorf("error box %q lacks the code and message", got)
	}

	// A question whose socket drops before it is answered is sent again,
	// same clientMessageId, once the page has reconnected.
	browsertest.Ask(t, ctx, "#drop")
	browsertest.Do(t, ctx, "resent question answered", chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id="m-5"][data-state="done"]`)))
	if got, want := browsertest.TextContent(t, ctx, `li.bot[data-message-id="m-5"] .text`), answers["#drop"]; got != want {
		t.Fatalf("resent question's answer %q, want %q", got, want)
	}
	browsertest.Do(t, ctx, "reconnected", chromedp.WaitReady(chromedp.CSS(`#status[data-state="open"]`)))
	browsertest.Ask(t, ctx, "헬스장 요금은요?")
	browsertest.Do(t, ctx, "answer after reconnecting", chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id="m-6"][data-state="done"]`)))
	if got, want := browsertest.TextContent(t, ctx, `li.bot[data-message-id="m-6"] .text`), answers["헬스장 요금은요?"]; got != want {
		t.Fatalf("answer after reconnecting %q, want %q", got, want)
	}
	if n := fs.conns.Load(); n != 2 {
		t.Errorf("%d websocket connections, want 2 (one reconnect)", n)
	}

	// The greeting and five questions; API Gateway's frames add none.
	if bots := browsertest.Evaluate[int](t, ctx, `document.querySelectorAll("li.msg.bot").length`); bots != 6 {
		t.Errorf("%d bot messages, want 6", bots)
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("page exceptions: %v", e)
	}
}

func TestChatPage_ShowsLoginErrors(t *testing.T) {
	fs := newFakeStack(t, nil, func(context.Context, *websocket.Conn, int, string, string) error { return nil })
	ctx := browsertest.Chromium(t, 800, 700)
	browsertest.SubmitLogin(t, ctx, fs.page.URL, "apt001", "hong2", "wrong")
	browsertest.Do(t, ctx, "wrong password", chromedp.WaitVisible(chromedp.CSS("#login-error")))
	if got := browsertest.TextContent(t, ctx, "#login-error"); !strings.Contains(got, "INVALID_CREDENTIALS") || !strings.Contains(got, "401") {
		t.Fatalf("login error %q lacks the code and status", got)
	}
}

// ragdevAnswerer relays the dev RAG server's answers as the message
// function does, one delta frame per SSE event.
func ragdevAnswerer(ragURL string) answerer {
	return func(ctx context.Context, c *websocket.Conn, n int, question, roomID string) error {
		body, _ := json.Marshal(map[string]any{
			"chat": map[string]any{"message": question, "stream": true, "useHistory": true},
			"meta": map[string]any{"category1": "", "category2": "", "companyId": "apt001", "sessionId": roomID,
				"userId": "고객-275b", "ragSysInfo": "DEFAULT_RAG"},
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ragURL+"/v1/chatbot/ask", strings.NewReader(string(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		id, seq, answer := fmt.Sprintf("m-%d", n), 0, ""
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok || data == "[DONE]" {
				continue
			}
			var ev struct{ Delta string }
			if json.Unmarshal([]byte(data), &ev) != nil || ev.Delta == "" {
				continue
			}
			seq++
			answer += ev.Delta
			if err := send(ctx, c, frame(map[string]any{"type": "delta", "sessionId": roomID, "messageId": id, "seq": seq,
				"delta": ev.Delta, "isComplete": false})); err != nil {
				return err
			}
		}
		return send(ctx, c, frame(map[string]any{"type": "complete", "sessionId": roomID, "messageId": id, "seq": seq + 1,
			"delta": "", "isComplete": true, "answer": answer}))
	}
}

// TestChatPage_Screenshot writes a screenshot of a conversation with the
// dev RAG server to the file named by RAGCHAT_SCREENSHOT (the README's
// docs/chat-page.png); it is skipped when the variable is unset.
func TestChatPage_Screenshot(t *testing.T) {
	out := os.Getenv("RAGCHAT_SCREENSHOT")
	if out == "" {
		t.Skip("RAGCHAT_SCREENSHOT not set")
	}
	rag := httptest.NewServer(ragdev.New(ragdev.Options{PieceDelay: 5 * time.Millisecond}))
	defer rag.Close()
	fs := newFakeStack(t, []string{"관리비 납부 방법", "주차 등록", "분리수거 요일"}, ragdevAnswerer(rag.URL))
	ctx := browsertest.Chromium(t, 1100, 1120)
	browsertest.Login(t, ctx, fs.page.URL, "apt001", "hong2", "1234")
	for i, q := range []string{"관리비는 언제까지 내야 하나요?", "윗집 발소리 때문에 너무 힘들어요", "택배는 어디서 찾아요?"} {
		browsertest.Ask(t, ctx, q)
		browsertest.Do(t, ctx, "answer", chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`li.bot[data-message-id="m-%d"][data-state="done"]`, i+1))))
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The chat page's styles are the console's too (style.css): none of the
// chat page's own rules may narrow the console's queue of rooms.
func TestAgentConsole_QueueOfRoomsFillsItsColumn(t *testing.T) {
	ts := httptest.NewServer(Handler(Config{}))
	t.Cleanup(ts.Close)
	ctx := browsertest.Chromium(t, 1280, 800)
	browsertest.Do(t, ctx, "open the console", chromedp.Navigate(ts.URL+"/agent"), chromedp.WaitReady(chromedp.CSS("#console-view")))
	got := browsertest.Evaluate[[]float64](t, ctx, `(() => {
		document.getElementById("login-view").hidden = true;
		document.getElementById("console-view").hidden = false;
		const w = (sel) => document.querySelector(sel).getBoundingClientRect().width;
		return [w("#rooms"), w(".queue-head")];
	})()`)
	if got[0] != got[1] {
		t.Fatalf("the queue of rooms is %gpx wide in a column of %gpx", got[0], got[1])
	}
}
