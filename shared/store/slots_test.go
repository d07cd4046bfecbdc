package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/store"
)

func slotOf(room string, n int, holder string, expires time.Time) store.SocketSlot {
	return store.SocketSlot{Key: store.SocketSlotKey(room, n), Holder: holder, TakenAt: t0.UnixMilli(), ExpiresAt: expires.Unix()}
}

func TestStore_ASocketSlotIsTakenByOneOfThirtyAtOnce(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		takers []string
	)
	for i := range 30 {
		wg.Go(func() {
			id := fmt.Sprintf("c%02d", i)
			ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", 3, id, t0.Add(time.Hour)), t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				takers = append(takers, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(takers) != 1 {
		t.Fatalf("the slot was taken by %v, want exactly one", takers)
	}
	slots, err := s.SocketSlots(ctx, "room-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	for n, sl := range slots {
		if sl.Key != store.SocketSlotKey("room-1", n) {
			t.Errorf("slot %d has key %q", n, sl.Key)
		}
		if want := n == 3; sl.Free(t0) == want {
			t.Errorf("slot %d = %+v, want held %v", n, sl, want)
		}
	}
	if slots[3].Holder != takers[0] || slots[3].ExpiresAt != t0.Add(time.Hour).Unix() {
		t.Fatalf("slot 3 = %+v, want %s's, expiring with it", slots[3], takers[0])
	}
}

func TestStore_SocketSlotOfAnExpiredHolderIsTakenALiveOneIsNot(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	if ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", 0, "old", t0.Add(time.Minute)), t0); err != nil || !ok {
		t.Fatalf("take a free slot: %v %v", ok, err)
	}
	if ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", 0, "old", t0.Add(time.Minute)), t0); err != nil || !ok {
		t.Fatalf("the holder takes its own slot again: %v %v, want taken (a retried $connect)", ok, err)
	}
	if ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", 0, "new", t0.Add(time.Hour)), t0.Add(59*time.Second)); err != nil || ok {
		t.Fatalf("take a live holder's slot: %v %v, want refused", ok, err)
	}
	if ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", 0, "new", t0.Add(time.Hour)), t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("take an expired holder's slot: %v %v, want taken", ok, err)
	}
	slots, err := s.SocketSlots(ctx, "room-1", 1)
	if err != nil || slots[0].Holder != "new" {
		t.Fatalf("slot 0 = %+v, %v; want new's", slots, err)
	}
}

func TestStore_SocketSlotTakeOverIsConditionalOnTheOldHolder(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	exp := t0.Add(time.Hour)
	if ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", 2, "gone", exp), t0); err != nil || !ok {
		t.Fatalf("take: %v %v", ok, err)
	}
	if ok, err := s.TakeOverSocketSlot(ctx, slotOf("room-1", 2, "a", exp), "someone-else"); err != nil || ok {
		t.Fatalf("take over from the wrong holder: %v %v, want refused", ok, err)
	}
	var (
		wg  sync.WaitGroup
		won = make(chan string, 10)
	)
	for i := range 10 {
		wg.Go(func() {
			id := fmt.Sprintf("t%d", i)
			ok, err := s.TakeOverSocketSlot(ctx, slotOf("room-1", 2, id, exp), "gone")
			if err != nil {
				t.Error(err)
			}
			if ok {
				won <- id
			}
		})
	}
	wg.Wait()
	close(won)
	var winners []string
	for id := range won {
		winners = append(winners, id)
	}
	if len(winners) != 1 {
		t.Fatalf("take-overs of one gone holder won by %v, want exactly one", winners)
	}
	// The gone holder's connection is deleted after the take-over (by the
	// take-over's DeleteTakenOverConnection, or by DeleteConnection on the
	// relay's 410): that gives back nothing the new holder holds.
	for _, del := range []func(context.Context, string) error{s.DeleteTakenOverConnection, s.DeleteConnection} {
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: "gone", RoomID: "room-1", ExpiresAt: exp.Unix(), Slot: store.SocketSlotKey("room-1", 2)}); err != nil {
			t.Fatal(err)
		}
		if err := del(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetConnection(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the gone connection after its delete: %v, want not found", err)
		}
		if slots, err := s.SocketSlots(ctx, "room-1", 3); err != nil || slots[2].Holder != winners[0] {
			t.Fatalf("slot 2 = %+v, %v; want %s's still", slots, err, winners[0])
		}
	}
}

func TestStore_DeleteConnectionGivesItsSlotBackAndSlotsAreNoConnections(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	exp := t0.Add(time.Hour)
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		sl := slotOf("room-1", i, id, exp)
		if ok, err := s.TakeSocketSlot(ctx, sl, t0); err != nil || !ok {
			t.Fatalf("take: %v %v", ok, err)
		}
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, RoomID: "room-1", ConnectedAt: t0.UnixMilli(), ExpiresAt: exp.Unix(), Slot: sl.Key}); err != nil {
			t.Fatal(err)
		}
	}
	// The slots are in the Connections table but never a room's connection.
	conns, err := s.RoomConnections(ctx, "room-1", t0)
	if err != nil || len(conns) != 3 {
		t.Fatalf("RoomConnections = %+v, %v; want the 3 connections only", conns, err)
	}
	if err := s.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, "c1"); err != nil { // $disconnect after the relay's 410
		t.Fatal(err)
	}
	slots, err := s.SocketSlots(ctx, "room-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if slots[0].Holder != "c0" || slots[1].Holder != "" || slots[2].Holder != "c2" {
		t.Fatalf("slots after c1's delete = %+v, want c0, free, c2", slots)
	}
	// A holder gives back only its own slot.
	if err := s.FreeSocketSlot(ctx, store.SocketSlotKey("room-1", 2), "c0"); err != nil {
		t.Fatal(err)
	}
	if slots, err := s.SocketSlots(ctx, "room-1", 3); err != nil || slots[2].Holder != "c2" {
		t.Fatalf("slot 2 after another's free = %+v, %v; want c2's", slots, err)
	}
}

func TestStore_SocketSlotsReadsMoreThanOneBatch(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	for _, n := range []int{0, 99, 100, 149} {
		if ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", n, fmt.Sprintf("c%d", n), t0.Add(time.Hour)), t0); err != nil || !ok {
			t.Fatalf("take %d: %v %v", n, ok, err)
		}
	}
	slots, err := s.SocketSlots(ctx, "room-1", 150)
	if err != nil || len(slots) != 150 {
		t.Fatalf("SocketSlots = %d slots, %v", len(slots), err)
	}
	for n, sl := range slots {
		want := ""
		if n == 0 || n == 99 || n == 100 || n == 149 {
			want = fmt.Sprintf("c%d", n)
		}
		if sl.Holder != want {
			t.Errorf("slot %d held by %q, want %q", n, sl.Holder, want)
		}
	}
}

// A batch read whose keys DynamoDB leaves unprocessed (the table's
// capacity exceeded: a success to the SDK, which does not retry it) is
// asked again with backoff: twice left unprocessed, the third read
// answers; always left unprocessed, the read fails after four attempts.
func TestStore_SocketSlotsAsksUnprocessedKeysAgain(t *testing.T) {
	s, tables, _ := newTestStore(t)
	ctx := context.Background()
	if ok, err := s.TakeSocketSlot(ctx, slotOf("room-1", 1, "c1", t0.Add(time.Hour)), t0); err != nil || !ok {
		t.Fatalf("take: %v %v", ok, err)
	}
	f := testkit.LeaveUnprocessed(t, tables.Connections, 2)
	slots, err := s.SocketSlots(ctx, "room-1", 3)
	if err != nil || len(slots) != 3 || slots[1].Holder != "c1" || slots[0].Holder != "" || f.Hits() != 2 {
		t.Fatalf("SocketSlots = %+v, %v after %d unprocessed reads; want slot 1 held by c1 after 2", slots, err, f.Hits())
	}
	f.Remove()
	f = testkit.LeaveUnprocessed(t, tables.Connections, -1)
	if _, err := s.SocketSlots(ctx, "room-1", 3); err == nil || !strings.Contains(err.Error(), "unprocessed") || f.Hits() != 4 {
		t.Fatalf("always unprocessed: %v after %d reads; want an error after 4", err, f.Hits())
	}
}
