package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	login "github.com/ragchat/ragchat/functions/login/handler"
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
