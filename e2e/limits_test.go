package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	login "github.com/ragchat/ragchat/functions/login/handler"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// The socket cap through real processes: the @connections GET that tells
// a lost $disconnect from an open socket is the local API's.

func TestLimits_EleventhSocketOfARoomIsRefusedWith429(t *testing.T) {
	u := h.newUser(t, "apt001")
	token := h.login(t, u)
	room := h.newRoom(t, token)
	for range 10 {
		h.dial(t, token, room.RoomID)
	}
	status, e := h.refusal(t, "token="+url.QueryEscape(token)+"&roomId="+room.RoomID)
	if status != http.StatusTooManyRequests || e.Code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("11th socket: %d %+v, want 429 TOO_MANY_CONNECTIONS", status, e)
	}
	if n := len(h.roomConnections(t, room.RoomID)); n != 10 {
		t.Fatalf("the room holds %d connections, want 10", n)
	}
}

func TestLimits_RoomWhoseTenItemsAreStaleStillAcceptsANewSocket(t *testing.T) {
	u := h.newUser(t, "apt001")
	token := h.login(t, u)
	room := h.newRoom(t, token)
	now := time.Now()
	st := store.New(h.st.DB, h.st.Tables)
	var oldest string
	for i := range 10 { // ten sockets gone without $disconnect: their items and their slots
		at := now.Add(time.Duration(i-10) * time.Minute)
		sc := storedConnection{
			ConnectionID: fmt.Sprintf("gone%s%02d=", randHex(4), i), RoomID: room.RoomID, UserID: u.UserID,
			CompanyID: u.CompanyID, ConnectedAt: at.UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(),
			Slot: store.SocketSlotKey(room.RoomID, i),
		}
		if i == 0 {
			oldest = sc.ConnectionID
		}
		ok, err := st.TakeSocketSlot(context.Background(), store.SocketSlot{Key: sc.Slot, Holder: sc.ConnectionID, TakenAt: sc.ConnectedAt, ExpiresAt: sc.ExpiresAt}, now)
		if err != nil || !ok {
			t.Fatalf("take slot %s: %v %v", sc.Slot, ok, err)
		}
		h.putConnection(t, sc)
	}
	c := h.dial(t, token, room.RoomID)
	// The oldest was found gone (410) and gave way: its item deleted, its
	// slot the new socket's.
	if h.connectionItem(t, oldest) {
		t.Fatalf("the gone connection %s was not deleted", oldest)
	}
	if n := len(h.roomConnections(t, room.RoomID)); n != 10 {
		t.Fatalf("the room holds %d connections, want 10", n)
	}
	slots, err := st.SocketSlots(context.Background(), room.RoomID, 10)
	must(t, err)
	if slots[0].Holder != c.ID {
		t.Fatalf("the oldest's slot is %s's, want the new socket %s's", slots[0].Holder, c.ID)
	}
	got := c.ask(t, qFee)
	h.checkAnswered(t, room.RoomID, qFee, got)
	// The answer's posts met 410 for the other nine: the relay deleted
	// them, and with them their slots.
	if held := h.roomSlotHolders(t, room.RoomID); len(held) != 1 || !held[c.ID] {
		t.Fatalf("slot holders after the answer: %v, want the new socket %s only", held, c.ID)
	}
}

func TestLimits_ATokenOlderThanAPasswordResetIsRefusedAtHTTPAndConnect(t *testing.T) {
	u := h.newUser(t, "apt001")
	old := h.login(t, u)
	room := h.newRoom(t, old)
	newPassword := h.resetPassword(t, u)

	if r := h.do(t, http.MethodPost, "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + old}, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("room creation with the old token: %d %s, want 401", r.Status, r.Body)
	}
	if status, e := h.refusal(t, "token="+url.QueryEscape(old)+"&roomId="+room.RoomID); status != http.StatusUnauthorized {
		t.Fatalf("$connect with the old token: %d %+v, want 401", status, e)
	}
	r := h.tryLogin(t, u.CompanyID, u.UserID, newPassword)
	var lr login.Response
	must(t, json.Unmarshal(r.Body, &lr))
	if r.Status != http.StatusOK || lr.Token == "" {
		t.Fatalf("login with the new password: %d %s", r.Status, r.Body)
	}
	h.dial(t, lr.Token, room.RoomID)
}

// The room-creation cap through the local HTTP API: a user's 21st room
// within the hour is refused with 429 ROOM_LIMIT and a Retry-After, and
// creates nothing.
func TestLimits_TheTwentyFirstRoomInAnHourGetsRoomLimit(t *testing.T) {
	u := h.newUser(t, "apt001")
	token := h.login(t, u)
	for range 20 {
		h.newRoom(t, token)
	}
	r := h.do(t, http.MethodPost, "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + token}, "")
	var e apiError
	if r.Status != http.StatusTooManyRequests || json.Unmarshal(r.Body, &e) != nil || e.Code != "ROOM_LIMIT" || e.Message == "" {
		t.Fatalf("the 21st room: %d %s, want 429 ROOM_LIMIT", r.Status, r.Body)
	}
	if retry, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || retry < 1 || retry > 3600 {
		t.Fatalf("the 21st room's Retry-After %q, want 1-3600 seconds", r.Header.Get("Retry-After"))
	}
	list := h.do(t, http.MethodGet, "/api/customer/rooms?limit=100", map[string]string{"Authorization": "Bearer " + token}, "")
	var page apigw.RoomsPage
	if list.Status != http.StatusOK || json.Unmarshal(list.Body, &page) != nil || len(page.Rooms) != 20 {
		t.Fatalf("the user's rooms: %d, %d rooms, want 20: %s", list.Status, len(page.Rooms), list.Body)
	}
}

// A socket never outlives its token: one opened with a token that
// expires three seconds later gets TOKEN_EXPIRED for a question asked after
// that, and the RAG service is not asked.
func TestLimits_AQuestionOnASocketWhoseTokenExpiredGetsTokenExpired(t *testing.T) {
	u := h.newUser(t, "apt001")
	room := h.newRoom(t, h.login(t, u)).RoomID
	issued := time.Now()
	short, err := auth.NewTokens([]byte(h.tokenSecret), 3*time.Second).Issue(auth.Identity{
		UserID: u.UserID, CompanyID: u.CompanyID, Role: store.UserRoleCustomer, Name: u.UserName,
	}, issued)
	must(t, err)
	h.secrets.addToken("token of three seconds", short)
	c := h.dial(t, short, room)
	var conn storedConnection
	must(t, unmarshalMap(h.item(t, h.st.Tables.Connections, "connectionId", c.ID), &conn))
	if exp := issued.Add(3 * time.Second).Unix(); conn.ExpiresAt == 0 || conn.ExpiresAt > exp {
		t.Fatalf("the connection expires at %d, want by its token's exp %d", conn.ExpiresAt, exp)
	}
	time.Sleep(time.Until(issued.Add(4 * time.Second))) // past exp, whole seconds
	a := c.ask(t, qFee)
	if a.Terminal.Type != "error" || a.Terminal.Code != "TOKEN_EXPIRED" {
		t.Fatalf("a question after the token's exp ended with %s, want TOKEN_EXPIRED", redactFrame(a.Terminal))
	}
	if turns := h.rag.rag.History(room); len(turns) != 0 {
		t.Fatalf("the RAG server was asked %d times in the room", len(turns))
	}
}

// The RAG service's bearer: the dev RAG server behind the suite refuses an
// ask without it (so every answered question of the suite carried it),
// and the output scan finds it in no log line.
func TestLimits_TheRAGServiceRefusesAnAskWithoutTheBearer(t *testing.T) {
	for _, tt := range []struct{ name, auth string }{{"no header", ""}, {"another bearer", "Bearer not-the-bearer"}} {
		req, err := http.NewRequest(http.MethodPost, h.rag.URL()+"/v1/chatbot/ask", strings.NewReader(`{"message":"관리비","companyId":"apt001","sessionId":"room-e2e-bearer"}`))
		must(t, err)
		req.Header.Set("Content-Type", "application/json")
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		if resp, _ := testkit.Do(t, nil, req); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: an ask got %d, want 401", tt.name, resp.StatusCode)
		}
	}
	u := h.newUser(t, "apt001")
	token := h.login(t, u)
	room := h.newRoom(t, token).RoomID
	h.checkAnswered(t, room, qFee, h.dial(t, token, room).ask(t, qFee))
}
