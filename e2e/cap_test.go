package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/store"
)

// The socket cap under concurrency, through real processes: the local
// API runs every $connect in a ConnectFunction process, several at once,
// and the cap holds because each socket takes a slot of the room with a
// conditional write (shared/store/slots.go).

// roomSlotHolders returns the holders of the room's 10 socket slots that
// have not expired.
func (hr *harness) roomSlotHolders(t testing.TB, room string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	slots, err := store.New(hr.st.DB, hr.st.Tables).SocketSlots(ctx, room, 10)
	must(t, err)
	held := map[string]bool{}
	for _, sl := range slots {
		if !sl.Free(time.Now()) {
			held[sl.Holder] = true
		}
	}
	return held
}

// liveConnections returns the ids of the room's connection items.
func (hr *harness) liveConnections(t testing.TB, room string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, c := range hr.roomConnections(t, room) {
		if c.ExpiresAt > time.Now().Unix() {
			ids[c.ConnectionID] = true
		}
	}
	return ids
}

func TestCap_ThirtySocketsAtOnceIntoOneRoomGiveExactlyTen(t *testing.T) {
	u := h.newUser(t, "apt001")
	token := h.login(t, u)
	room := h.newRoom(t, token)

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		open    []*wsclient.Conn
		refused int
	)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for range 30 {
		wg.Go(func() {
			c, err := wsclient.Dial(ctx, h.st.URLs.WebSocket, token, room.RoomID)
			mu.Lock()
			defer mu.Unlock()
			var r *wsclient.Refusal
			switch {
			case err == nil:
				open = append(open, c)
			case errors.As(err, &r):
				var e apiError
				if r.Status != http.StatusTooManyRequests || json.Unmarshal(r.Body, &e) != nil || e.Code != "TOO_MANY_CONNECTIONS" {
					t.Errorf("handshake refused with %d %s, want 429 TOO_MANY_CONNECTIONS", r.Status, r.Body)
				}
				refused++
			default:
				t.Errorf("dial: %v", err)
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	if len(open) != 10 || refused != 20 {
		t.Fatalf("30 sockets at once: %d open and %d refused with 429, want exactly 10 and 20", len(open), refused)
	}
	live := h.liveConnections(t, room.RoomID)
	if len(live) != 10 {
		t.Fatalf("the room holds %d connections, want 10", len(live))
	}
	if held := h.roomSlotHolders(t, room.RoomID); !maps.Equal(held, live) {
		t.Fatalf("slot holders %v, want the room's connections %v", slices.Sorted(maps.Keys(held)), slices.Sorted(maps.Keys(live)))
	}

	// One closes: its $disconnect gives its slot back, and the next
	// socket gets it without any @connections GET being needed.
	open[0].Close()
	open = open[1:]
	eventually(t, "the closed socket's $disconnect", func() bool { return len(h.liveConnections(t, room.RoomID)) == 9 })
	eventually(t, "its slot given back", func() bool { return len(h.roomSlotHolders(t, room.RoomID)) == 9 })
	c := h.dial(t, token, room.RoomID)
	if !h.roomSlotHolders(t, room.RoomID)[c.ID] {
		t.Fatalf("the new socket %s holds no slot", c.ID)
	}
	if status, e := h.refusal(t, "token="+url.QueryEscape(token)+"&roomId="+room.RoomID); status != http.StatusTooManyRequests || e.Code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("11th socket: %d %+v, want 429 TOO_MANY_CONNECTIONS", status, e)
	}
}
