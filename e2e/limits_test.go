package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
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
	for i := range 10 { // ten sockets gone without $disconnect
		h.putConnection(t, storedConnection{
			ConnectionID: fmt.Sprintf("gone%s%02d=", randHex(4), i), RoomID: room.RoomID, UserID: u.UserID,
			CompanyID: u.CompanyID, ConnectedAt: now.Add(time.Duration(i-10) * time.Minute).UnixMilli(),
			ExpiresAt: now.Add(time.Hour).Unix(),
		})
	}
	c := h.dial(t, token, room.RoomID)
	got := c.ask(t, qFee)
	h.checkAnswered(t, room.RoomID, qFee, got)
}
