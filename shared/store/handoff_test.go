package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ragchat/ragchat/shared/store"
)

// newRoom creates a BOT room of apt001 owned by hong2.
func newRoom(t *testing.T, s *store.Store, id string, atMs int64) store.Room {
	t.Helper()
	r := store.Room{RoomID: id, CompanyID: "apt001", UserID: "hong2", RoomName: "hong2", Members: []string{},
		Status: store.RoomStatusBot, CreatedAt: atMs, LastActivityAt: atMs}
	if err := s.CreateRoom(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	agent1 = store.Agent{UserID: "agent1", Name: "상담원-01"}
	agent2 = store.Agent{UserID: "agent2", Name: "상담원-02"}
)

func TestStore_HandoffWholeCycle(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	at := t0.UnixMilli()
	newRoom(t, s, "room-1", at)

	r, changed, err := s.RequestHandoff(ctx, "apt001", "room-1", at+10)
	if err != nil || !changed || r.Status != store.RoomStatusWaiting || r.WaitingSince != at+10 || r.LastActivityAt != at+10 {
		t.Fatalf("RequestHandoff = %+v, %v, %v", r, changed, err)
	}
	// Again while WAITING: no change.
	if r, changed, err := s.RequestHandoff(ctx, "apt001", "room-1", at+20); err != nil || changed || r.Status != store.RoomStatusWaiting || r.WaitingSince != at+10 {
		t.Fatalf("second RequestHandoff = %+v, %v, %v", r, changed, err)
	}

	r, changed, err = s.ClaimRoom(ctx, "apt001", "room-1", agent1, at+30)
	if err != nil || !changed || r.Status != store.RoomStatusAgent || r.AssignedAgent == nil || *r.AssignedAgent != "agent1" ||
		r.AssignedAgentName != "상담원-01" || !slices.Equal(r.Members, []string{"agent1"}) || r.WaitingSince != 0 {
		t.Fatalf("ClaimRoom = %+v, %v, %v", r, changed, err)
	}
	// The same agent again: success, no change. Another agent: refused.
	if r, changed, err := s.ClaimRoom(ctx, "apt001", "room-1", agent1, at+40); err != nil || changed || r.Status != store.RoomStatusAgent {
		t.Fatalf("re-claim = %+v, %v, %v", r, changed, err)
	}
	if _, _, err := s.ClaimRoom(ctx, "apt001", "room-1", agent2, at+40); !errors.Is(err, store.ErrAlreadyAssigned) {
		t.Fatalf("claim by another agent = %v; want ErrAlreadyAssigned", err)
	}
	if _, changed, err := s.RequestHandoff(ctx, "apt001", "room-1", at+40); err != nil || changed {
		t.Fatalf("RequestHandoff in AGENT = %v, %v", changed, err)
	}
	if _, err := s.ReleaseRoom(ctx, "apt001", "room-1", "agent2", at+45); !errors.Is(err, store.ErrNotAssigned) {
		t.Fatalf("release by another agent = %v; want ErrNotAssigned", err)
	}

	r, err = s.ReleaseRoom(ctx, "apt001", "room-1", "agent1", at+50)
	if err != nil || r.Status != store.RoomStatusBot || r.AssignedAgent != nil || r.AssignedAgentName != "" || !slices.Equal(r.Members, []string{"agent1"}) {
		t.Fatalf("ReleaseRoom = %+v, %v", r, err)
	}
	if _, err := s.ReleaseRoom(ctx, "apt001", "room-1", "agent1", at+55); !errors.Is(err, store.ErrNotAssigned) {
		t.Fatalf("release of a BOT room = %v; want ErrNotAssigned", err)
	}
	if _, err := s.CloseRoom(ctx, "apt001", "room-1", "agent1", at+55); !errors.Is(err, store.ErrNotAssigned) {
		t.Fatalf("close of a BOT room = %v; want ErrNotAssigned", err)
	}

	// Claim straight from BOT (taking over), by agent2: members grow.
	r, changed, err = s.ClaimRoom(ctx, "apt001", "room-1", agent2, at+60)
	if err != nil || !changed || *r.AssignedAgent != "agent2" || !slices.Equal(r.Members, []string{"agent1", "agent2"}) {
		t.Fatalf("claim from BOT = %+v, %v, %v", r, changed, err)
	}
	r, err = s.CloseRoom(ctx, "apt001", "room-1", "agent2", at+70)
	if err != nil || r.Status != store.RoomStatusClosed || r.AssignedAgent != nil {
		t.Fatalf("CloseRoom = %+v, %v", r, err)
	}
	for name, err := range map[string]error{
		"handoff": second(s.RequestHandoff(ctx, "apt001", "room-1", at+80)),
		"claim":   second(s.ClaimRoom(ctx, "apt001", "room-1", agent1, at+80)),
		"release": func() error { _, err := s.ReleaseRoom(ctx, "apt001", "room-1", "agent2", at+80); return err }(),
		"close":   func() error { _, err := s.CloseRoom(ctx, "apt001", "room-1", "agent2", at+80); return err }(),
	} {
		if !errors.Is(err, store.ErrRoomClosed) {
			t.Errorf("%s of a CLOSED room = %v; want ErrRoomClosed", name, err)
		}
	}
	if got, err := s.GetRoom(ctx, "room-1"); err != nil || got.Status != store.RoomStatusClosed || got.LastActivityAt != at+70 {
		t.Fatalf("room after the refusals = %+v, %v", got, err)
	}
}

// second drops the room and changed of a transition.
func second(_ store.Room, _ bool, err error) error { return err }

func TestStore_TransitionsRefuseUnknownRoomsAndOtherCompanies(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	newRoom(t, s, "room-1", t0.UnixMilli())
	for _, c := range []struct{ company, room string }{{"book001", "room-1"}, {"apt001", "room-nope"}} {
		if err := second(s.ClaimRoom(ctx, c.company, c.room, agent1, 1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("claim %v = %v; want ErrNotFound", c, err)
		}
		if err := second(s.RequestHandoff(ctx, c.company, c.room, 1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("handoff %v = %v; want ErrNotFound", c, err)
		}
		if _, err := s.CloseRoom(ctx, c.company, c.room, "agent1", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("close %v = %v; want ErrNotFound", c, err)
		}
	}
	if r, err := s.GetRoom(ctx, "room-1"); err != nil || r.Status != store.RoomStatusBot {
		t.Fatalf("room after refusals = %+v, %v", r, err)
	}
}

// TestStore_ConcurrentClaimsHaveExactlyOneWinner races several agents
// claiming the same WAITING room, over many rooms at once, against the
// DynamoDB server: every room ends with exactly one winner, and the room
// holds that winner.
func TestStore_ConcurrentClaimsHaveExactlyOneWinner(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	const rooms, agents = 40, 4
	for i := range rooms {
		id := fmt.Sprintf("room-%d", i)
		newRoom(t, s, id, t0.UnixMilli())
		if _, _, err := s.RequestHandoff(ctx, "apt001", id, t0.UnixMilli()+1); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		agent string
		err   error
	}
	results := make([][]result, rooms)
	var wg sync.WaitGroup
	for i := range rooms {
		results[i] = make([]result, agents)
		for a := range agents {
			wg.Go(func() {
				agent := store.Agent{UserID: fmt.Sprintf("agent%d", a), Name: fmt.Sprintf("상담원-%02d", a)}
				_, _, err := s.ClaimRoom(ctx, "apt001", fmt.Sprintf("room-%d", i), agent, t0.UnixMilli()+2)
				results[i][a] = result{agent.UserID, err}
			})
		}
	}
	wg.Wait()
	for i, rs := range results {
		var winners []string
		for _, r := range rs {
			switch {
			case r.err == nil:
				winners = append(winners, r.agent)
			case !errors.Is(r.err, store.ErrAlreadyAssigned):
				t.Errorf("room-%d: claim by %s = %v; want success or ErrAlreadyAssigned", i, r.agent, r.err)
			}
		}
		room, err := s.GetRoom(ctx, fmt.Sprintf("room-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if len(winners) != 1 || room.AssignedAgent == nil || *room.AssignedAgent != winners[0] || !slices.Equal(room.Members, winners) {
			t.Errorf("room-%d: winners %v, room assigned %v members %v; want exactly one winner, assigned", i, winners, room.AssignedAgent, room.Members)
		}
	}
}

func TestStore_RoomsByStatusQueueOrderAndPaging(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	at := t0.UnixMilli()
	// room-0..4 ask for a person in the order 3, 1, 4, 0, 2; room-5 stays BOT.
	for i := range 6 {
		newRoom(t, s, fmt.Sprintf("room-%d", i), at+int64(i))
	}
	for n, i := range []int{3, 1, 4, 0, 2} {
		if _, _, err := s.RequestHandoff(ctx, "apt001", fmt.Sprintf("room-%d", i), at+100+int64(n)); err != nil {
			t.Fatal(err)
		}
	}
	// room-2 is claimed: it leaves the queue.
	if _, _, err := s.ClaimRoom(ctx, "apt001", "room-2", agent1, at+200); err != nil {
		t.Fatal(err)
	}
	// A customer keeps writing in room-4 while it waits: its place holds.
	if err := s.TouchRoom(ctx, "room-4", at+300); err != nil {
		t.Fatal(err)
	}
	// book001 has a waiting room too, which apt001 never sees.
	other := store.Room{RoomID: "room-b", CompanyID: "book001", UserID: "reader1", Members: []string{}, Status: store.RoomStatusBot, CreatedAt: at}
	if err := s.CreateRoom(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RequestHandoff(ctx, "book001", "room-b", at+50); err != nil {
		t.Fatal(err)
	}

	var got []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := s.RoomsByStatus(ctx, "apt001", store.RoomStatusWaiting, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Rooms {
			got = append(got, r.RoomID)
		}
		if p.Next == "" || page > 5 {
			break
		}
		cursor = p.Next
	}
	if want := []string{"room-3", "room-1", "room-4", "room-0"}; !slices.Equal(got, want) {
		t.Fatalf("WAITING = %v; want %v (longest-waiting first)", got, want)
	}
	bot, err := s.RoomsByStatus(ctx, "apt001", store.RoomStatusBot, 10, "")
	if err != nil || len(bot.Rooms) != 1 || bot.Rooms[0].RoomID != "room-5" {
		t.Fatalf("BOT = %+v, %v", bot, err)
	}
	agent, err := s.RoomsByStatus(ctx, "apt001", store.RoomStatusAgent, 10, "")
	if err != nil || len(agent.Rooms) != 1 || agent.Rooms[0].RoomID != "room-2" {
		t.Fatalf("AGENT = %+v, %v", agent, err)
	}
	if p, err := s.RoomsByStatus(ctx, "apt001", store.RoomStatusClosed, 10, ""); err != nil || len(p.Rooms) != 0 || p.Next != "" {
		t.Fatalf("CLOSED = %+v, %v", p, err)
	}
	if p, err := s.RoomsByStatus(ctx, "book001", store.RoomStatusWaiting, 10, ""); err != nil || len(p.Rooms) != 1 || p.Rooms[0].RoomID != "room-b" {
		t.Fatalf("book001 WAITING = %+v, %v", p, err)
	}
}

func TestStore_RoomsByStatusRefusesForeignCursors(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	for i := range 3 {
		newRoom(t, s, fmt.Sprintf("room-%d", i), t0.UnixMilli()+int64(i))
		if _, _, err := s.RequestHandoff(ctx, "apt001", fmt.Sprintf("room-%d", i), t0.UnixMilli()+10); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.RoomsByStatus(ctx, "apt001", store.RoomStatusWaiting, 1, "")
	if err != nil || p.Next == "" {
		t.Fatalf("first page = %+v, %v", p, err)
	}
	bot, err := s.RoomsByStatus(ctx, "apt001", store.RoomStatusBot, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = bot
	for name, c := range map[string]struct{ company, status, cursor string }{
		"not base64":       {"apt001", store.RoomStatusWaiting, "!!!"},
		"not JSON":         {"apt001", store.RoomStatusWaiting, "bm90IGpzb24"},
		"another company":  {"book001", store.RoomStatusWaiting, p.Next},
		"another status":   {"apt001", store.RoomStatusAgent, p.Next},
		"unknown field":    {"apt001", store.RoomStatusWaiting, "eyJyIjoicm9vbS0xIiwicCI6ImFwdDAwMSIsInMiOjEsIngiOjF9"},
		"wrong room shape": {"apt001", store.RoomStatusWaiting, "eyJyIjoiIyMiLCJwIjoiYXB0MDAxIiwicyI6MX0"},
	} {
		if _, err := s.RoomsByStatus(ctx, c.company, c.status, 1, c.cursor); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: RoomsByStatus = %v; want ErrBadCursor", name, err)
		}
	}
}
