package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/apigw"
)

// Conversations that survive real life: reconnecting mid-answer, a second
// socket joining, repeats by clientMessageId, the history over HTTP,
// ping.

// slowly makes the dev RAG server pause between events, so that the
// answer streams for a few seconds.
const slowly = " #fault=slow:120ms"

// readHistory reads GET /api/customer/rooms/{roomId}/messages with query.
func (hr *harness) readHistory(t testing.TB, token, room, query string) (int, apigw.MessagesPage) {
	t.Helper()
	r := hr.do(t, http.MethodGet, "/api/customer/rooms/"+room+"/messages"+query, map[string]string{"Authorization": "Bearer " + token}, "")
	var p apigw.MessagesPage
	if r.Status == http.StatusOK {
		must(t, json.Unmarshal(r.Body, &p))
	}
	return r.Status, p
}

func TestConversation_ASocketThatReconnectsMidAnswerGetsTheWholeAnswer(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	a := h.dial(t, cu.Token, cu.Room)
	a.sendQuestionWithID(t, qFee+slowly, "c-reconnect")
	first := a.nextTyped(t)
	if !first.IsAnswer() {
		t.Fatalf("first frame %s, want the answer's", first.Raw)
	}
	a.drop() // the phone enters a lift
	time.Sleep(time.Second)
	b := h.dial(t, cu.Token, cu.Room)
	got := b.readAnswer(t)
	if got.MessageID != first.MessageID || got.Terminal.Type != "complete" {
		t.Fatalf("the new socket got %s ending %s, want %s complete", got.MessageID, got.Terminal.Type, first.MessageID)
	}
	if want := h.rag.lastAnswer(t, cu.Room).Answer; got.Text != want {
		t.Fatalf("the new socket's answer %q, want the whole answer %q", redact(got.Text), redact(want))
	}
	// Resending the question after the reconnect asks nothing again: the
	// stored answer comes back, same messageId, seq from 1.
	b.sendQuestionWithID(t, qFee+slowly, "c-reconnect")
	again := b.readAnswer(t)
	if again.MessageID != got.MessageID || again.Text != got.Text || again.Terminal.Type != "complete" || again.Terminal.ClientMessageID != "c-reconnect" {
		t.Fatalf("repeat %s %q %s, want the stored answer again", again.MessageID, redact(again.Text), again.Terminal.Type)
	}
	if turns := h.rag.rag.History(cu.Room); len(turns) != 1 {
		t.Fatalf("the RAG service was asked %d times, want once", len(turns))
	}
	b.close()
}

func TestConversation_ASecondSocketJoiningMidAnswerGetsItFromSeq1(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	a := h.dial(t, cu.Token, cu.Room)
	a.sendQuestion(t, qParking+slowly)
	for range 3 { // a few frames in
		if f := a.nextTyped(t); !f.IsAnswer() {
			t.Fatalf("frame %s", f.Raw)
		}
	}
	b := h.dial(t, cu.Token, cu.Room)
	joined := b.nextTyped(t)
	if !joined.IsAnswer() || joined.Seq != 1 || joined.Delta == "" {
		t.Fatalf("the joining socket's first frame %s, want seq 1 with the text so far", joined.Raw)
	}
	b.unread(joined)
	got := b.readAnswer(t)
	want := h.rag.lastAnswer(t, cu.Room).Answer
	if got.Text != want || got.Terminal.Type != "complete" {
		t.Fatalf("joining socket: %q ending %s, want %q complete", redact(got.Text), got.Terminal.Type, redact(want))
	}
	a.close()
	b.close()
}

func TestConversation_TheQuestionReachesTheOtherSocketsAsAMessageFrame(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	a := h.dial(t, cu.Token, cu.Room)
	b := h.dial(t, cu.Token, cu.Room)
	a.sendQuestionWithID(t, qRecycle, "c-frame")
	m := b.nextTyped(t)
	if m.Type != "message" || m.Role != "user" || m.Text != qRecycle || m.ClientMessageID != "c-frame" || m.UserName != cu.UserName {
		t.Fatalf("the other socket's first frame %s, want the question as a message frame", m.Raw)
	}
	got := a.readAnswer(t)
	if seen := b.readAnswer(t); seen.Text != got.Text {
		t.Fatalf("other socket %q, asker %q", redact(seen.Text), redact(got.Text))
	}
	a.close()
	b.close()
}

func TestConversation_HistoryAfterARAGFailureHoldsThePartialAnswerWithItsErrorOutcome(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	a := h.dial(t, cu.Token, cu.Room)
	a.sendQuestionWithID(t, qFee+" #fault=eof-before-done", "c-fail")
	got := a.readAnswer(t)
	if got.Terminal.Type != "error" || got.Terminal.Code != "RAG_STREAM_INTERRUPTED" || got.Text == "" {
		t.Fatalf("answer %q ending %s %s, want a partial answer then RAG_STREAM_INTERRUPTED", redact(got.Text), got.Terminal.Type, got.Terminal.Code)
	}
	var p apigw.MessagesPage
	eventually(t, "the failed answer's ending in the history", func() bool {
		code, page := h.readHistory(t, cu.Token, cu.Room, "")
		p = page
		return code == http.StatusOK && len(p.Messages) == 2 && p.Messages[1].Outcome != "streaming"
	})
	q, b := p.Messages[0], p.Messages[1]
	if p.RoomID != cu.Room || p.Status != "BOT" || p.NextCursor != nil {
		t.Errorf("page %+v", p)
	}
	if q.Role != "user" || q.ClientMessageID != "c-fail" || q.UserName != cu.UserName || !strings.HasPrefix(q.Text, qFee) {
		t.Errorf("question %+v", q)
	}
	if b.Role != "bot" || b.MessageID != got.MessageID || b.Text != got.Text || b.Outcome != "RAG_STREAM_INTERRUPTED" {
		t.Errorf("answer %+v, want %q with outcome RAG_STREAM_INTERRUPTED", b, redact(got.Text))
	}
	// Paging: one message a page, the newest first.
	code, newest := h.readHistory(t, cu.Token, cu.Room, "?limit=1")
	if code != http.StatusOK || len(newest.Messages) != 1 || newest.Messages[0].MessageID != b.MessageID || newest.NextCursor == nil {
		t.Fatalf("limit=1: %d %+v", code, newest)
	}
	code, older := h.readHistory(t, cu.Token, cu.Room, "?limit=1&before="+*newest.NextCursor)
	if code != http.StatusOK || len(older.Messages) != 1 || older.Messages[0].MessageID != q.MessageID || older.NextCursor != nil {
		t.Fatalf("the page before: %d %+v", code, older)
	}
	// Another customer's room is not found, like an unknown one.
	other := h.newCustomer(t, "apt001")
	for _, room := range []string{cu.Room, "room-00000000"} {
		if code, _ := h.readHistory(t, other.Token, room, ""); code != http.StatusNotFound {
			t.Errorf("another customer reading %s: %d, want 404", room, code)
		}
	}
	if code, _ := h.readHistory(t, cu.Token, cu.Room, "?before=bm90LWEtY3Vyc29y"); code != http.StatusBadRequest {
		t.Errorf("a forged cursor: %d, want 400", code)
	}
	a.close()
}

func TestConversation_RoomsListTheCustomersRoomsNewestFirst(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	second := h.newRoom(t, cu.Token).RoomID
	var page apigw.RoomsPage
	eventually(t, "both rooms listed", func() bool {
		r := h.do(t, http.MethodGet, "/api/customer/rooms", map[string]string{"Authorization": "Bearer " + cu.Token}, "")
		must(t, json.Unmarshal(r.Body, &page))
		return r.Status == http.StatusOK && len(page.Rooms) == 2
	})
	if page.Rooms[0].RoomID != second || page.Rooms[1].RoomID != cu.Room || page.NextCursor != nil {
		t.Fatalf("rooms %+v, want %s then %s", page.Rooms, second, cu.Room)
	}
	r := h.do(t, http.MethodGet, "/api/customer/rooms?limit=1", map[string]string{"Authorization": "Bearer " + cu.Token}, "")
	must(t, json.Unmarshal(r.Body, &page))
	if len(page.Rooms) != 1 || page.NextCursor == nil {
		t.Fatalf("limit=1: %s", r.Body)
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?cursor=%27%20OR%201%3D1", "?limit=1&limit=2"} {
		if r := h.do(t, http.MethodGet, "/api/customer/rooms"+q, map[string]string{"Authorization": "Bearer " + cu.Token}, ""); r.Status != http.StatusBadRequest || r.errorBody(t).Code == "" {
			t.Errorf("rooms%s: %d %s, want 400 with a code", q, r.Status, r.Body)
		}
	}
	if r := h.do(t, http.MethodGet, "/api/customer/rooms", nil, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", r.Status)
	}
}

func TestConversation_PingGetsPongWithoutALambda(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	a := h.dial(t, cu.Token, cu.Room)
	for i := range 3 {
		a.send(t, `{"action":"ping"}`)
		if f := a.nextTyped(t); f.Type != "pong" || string(f.Raw) != `{"type":"pong"}` {
			t.Fatalf("ping %d: %s, want {\"type\":\"pong\"}", i, f.Raw)
		}
	}
	// A function's frame would have come through @connections.
	if n := h.st.WS.Stats().Connections[a.ID].Posts; n != 0 {
		t.Errorf("%d @connections posts to the pinging socket, want 0: the route response answers", n)
	}
	a.close()
}
