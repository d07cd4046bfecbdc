package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/store"
)

var t0 = time.Date(2026, 1, 23, 5, 15, 4, 307_000_000, time.UTC)

// newTestStore returns a Store over fresh tables on the test DynamoDB
// server, whose clock reads *now.
func newTestStore(t *testing.T) (*store.Store, store.Tables, *time.Time) {
	t.Helper()
	t.Parallel()
	s, tables := testkit.Store(t)
	now := t0
	store.SetClock(s, func() time.Time { return now })
	return s, tables, &now
}

func strp(s string) *string { return &s }

func TestStore_UserRoundTripAndReplace(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	u := store.User{CompanyID: "apt001", UserID: "hong2", UserName: "고객-275b", Email: "hong2@example.com",
		Role: store.UserRoleCustomer, PasswordHash: "$2a$10$x", CreatedAt: t0.UnixMilli()}
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx, "apt001", "hong2")
	if err != nil || got != u {
		t.Fatalf("GetUser = %+v, %v; want %+v", got, err, u)
	}
	u.PasswordHash, u.Email = "$2a$10$y", ""
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetUser(ctx, "apt001", "hong2"); err != nil || got != u {
		t.Fatalf("after replace GetUser = %+v, %v; want %+v", got, err, u)
	}
	for _, k := range [][2]string{{"apt001", "nobody"}, {"apt002", "hong2"}, {"", "hong2"}, {"apt001", ""}} {
		if _, err := s.GetUser(ctx, k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser(%q, %q) = %v; want ErrNotFound", k[0], k[1], err)
		}
	}
}

func TestStore_CreateRoomNeverOverwrites(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	r := store.Room{RoomID: "room-52d2b5b6", CompanyID: "apt001", UserID: "hong2", RoomName: "hong2",
		Members: []string{}, Status: store.RoomStatusBot, CreatedAt: t0.UnixMilli(), LastActivityAt: t0.UnixMilli()}
	if err := s.CreateRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	other := r
	other.UserID, other.RoomName = "intruder", "intruder"
	if err := s.CreateRoom(ctx, other); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second CreateRoom = %v; want ErrExists", err)
	}
	got, err := s.GetRoom(ctx, r.RoomID)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("GetRoom = %+v, %v; want the first room %+v", got, err, r)
	}
	if got.Members == nil {
		t.Fatal("members read back as nil, want []")
	}
	for _, id := range []string{"room-00000000", ""} {
		if _, err := s.GetRoom(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRoom(%q) = %v; want ErrNotFound", id, err)
		}
	}
}

func TestStore_RoomOptionalFieldsRoundTrip(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	r := store.Room{RoomID: "room-aaaaaaaa", CompanyID: "apt001", UserID: "hong2", RoomName: "상담",
		Members: []string{"agent7", "hong2"}, Status: "AGENT", AssignedAgent: strp("agent7"), CustID: strp("c-1"),
		CreatedAt: 1, LastActivityAt: 2}
	if err := s.CreateRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRoom(ctx, r.RoomID); err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("GetRoom = %+v, %v; want %+v", got, err, r)
	}
}

func TestStore_LatestRoomIsTheOwnersNewest(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	rooms := []store.Room{
		{RoomID: "room-00000001", CompanyID: "apt001", UserID: "hong2", CreatedAt: 1000},
		{RoomID: "room-00000003", CompanyID: "apt001", UserID: "hong2", CreatedAt: 3000},
		{RoomID: "room-00000002", CompanyID: "apt001", UserID: "hong2", CreatedAt: 2000},
		{RoomID: "room-00000009", CompanyID: "apt001", UserID: "kim", CreatedAt: 9000},
		{RoomID: "room-00000008", CompanyID: "apt002", UserID: "hong2", CreatedAt: 8000},
	}
	for _, r := range rooms {
		r.Members = []string{}
		if err := s.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ company, user, want string }{
		{"apt001", "hong2", "room-00000003"},
		{"apt001", "kim", "room-00000009"},
		{"apt002", "hong2", "room-00000008"},
		{"apt001", "nobody", ""},
		{"apt00", "1#hong2", ""},
	}
	for _, c := range cases {
		got, err := s.LatestRoom(ctx, c.company, c.user)
		switch {
		case c.want == "" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("LatestRoom(%s, %s) = %+v, %v; want ErrNotFound", c.company, c.user, got, err)
		case c.want != "" && (err != nil || got.RoomID != c.want):
			t.Errorf("LatestRoom(%s, %s) = %q, %v; want %q", c.company, c.user, got.RoomID, err, c.want)
		}
	}
}

func TestStore_TouchRoomUpdatesOnlyExistingRooms(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	r := store.Room{RoomID: "room-0000000a", CompanyID: "apt001", UserID: "hong2", Members: []string{}, CreatedAt: 1, LastActivityAt: 1}
	if err := s.CreateRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchRoom(ctx, r.RoomID, 5000); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRoom(ctx, r.RoomID); err != nil || got.LastActivityAt != 5000 || got.CreatedAt != 1 {
		t.Fatalf("after touch GetRoom = %+v, %v", got, err)
	}
	if err := s.TouchRoom(ctx, "room-0000000b", 5000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TouchRoom(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetRoom(ctx, "room-0000000b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TouchRoom created a room: %v", err)
	}
}

func TestStore_ConnectionsLiveUntilExpiryAndDeleteIsIdempotent(t *testing.T) {
	s, _, now := newTestStore(t)
	ctx := context.Background()
	exp := t0.Add(2 * time.Hour).Unix()
	conns := []store.Connection{
		{ConnectionID: "c1", RoomID: "room-1", UserID: "hong2", UserName: "고객-275b", CompanyID: "apt001", ConnectedAt: t0.UnixMilli(), ExpiresAt: exp},
		{ConnectionID: "c2", RoomID: "room-1", UserID: "hong2", UserName: "고객-275b", CompanyID: "apt001", ConnectedAt: t0.UnixMilli(), ExpiresAt: exp + 60},
		{ConnectionID: "c3", RoomID: "room-2", UserID: "kim", CompanyID: "apt001", ExpiresAt: exp},
		{ConnectionID: "stale", RoomID: "room-1", UserID: "hong2", CompanyID: "apt001", ExpiresAt: t0.Unix()},
	}
	for _, c := range conns {
		if err := s.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetConnection(ctx, "c1"); err != nil || got != conns[0] {
		t.Fatalf("GetConnection = %+v, %v; want %+v", got, err, conns[0])
	}
	for _, id := range []string{"stale", "unknown", ""} {
		if _, err := s.GetConnection(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConnection(%q) = %v; want ErrNotFound", id, err)
		}
	}

	ids := func(at time.Time) map[string]bool {
		t.Helper()
		cs, err := s.RoomConnections(ctx, "room-1", at)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, c := range cs {
			m[c.ConnectionID] = true
		}
		return m
	}
	if got := ids(t0); !reflect.DeepEqual(got, map[string]bool{"c1": true, "c2": true}) {
		t.Fatalf("RoomConnections at t0 = %v", got)
	}
	if got := ids(time.Unix(exp, 0)); !reflect.DeepEqual(got, map[string]bool{"c2": true}) {
		t.Fatalf("RoomConnections at c1's expiry = %v", got)
	}
	*now = time.Unix(exp, 0)
	if _, err := s.GetConnection(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection at expiry = %v; want ErrNotFound", err)
	}

	for range 2 {
		if err := s.DeleteConnection(ctx, "c2"); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
	}
	if err := s.DeleteConnection(ctx, "never-existed"); err != nil {
		t.Fatalf("DeleteConnection(unknown): %v", err)
	}
	if got := ids(t0); !reflect.DeepEqual(got, map[string]bool{"c1": true}) {
		t.Fatalf("RoomConnections after delete = %v", got)
	}
}

func TestStore_RoomConnectionsReadsEveryPage(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	// ~3 KB per item: 400 items exceed DynamoDB's 1 MB query page.
	pad := string(make([]byte, 3000))
	for i := range 400 {
		c := store.Connection{ConnectionID: fmt.Sprintf("c%03d", i), RoomID: "room-big", UserName: pad, ExpiresAt: t0.Add(time.Hour).Unix()}
		if err := s.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := s.RoomConnections(ctx, "room-big", t0)
	if err != nil || len(cs) != 400 {
		t.Fatalf("RoomConnections = %d connections, %v; want 400", len(cs), err)
	}
}

func TestStore_NeverScans(t *testing.T) {
	s, tables, _ := newTestStore(t)
	counter := testkit.NewCounter(t, tables)
	ctx := context.Background()
	_ = s.PutUser(ctx, store.User{CompanyID: "a", UserID: "u", PasswordHash: "h"})
	_, _ = s.GetUser(ctx, "a", "u")
	_ = s.CreateRoom(ctx, store.Room{RoomID: "room-1", CompanyID: "a", UserID: "u", Members: []string{}})
	_, _ = s.LatestRoom(ctx, "a", "u")
	_, _ = s.RoomConnections(ctx, "room-1", t0)
	_, _ = s.History(ctx, "room-1", 5, "")
	_, _ = s.RoomsOfOwner(ctx, "a", "u", 5, "")
	_, _ = s.TakeLoginSlot(ctx, "a#u", store.Window{Max: 1, Window: time.Minute}, t0)
	_, _ = s.TakeLoginSlot(ctx, "a#u", store.Window{Max: 1, Window: time.Minute}, t0)
	counts := counter.Counts()
	if counts.Total() == 0 {
		t.Fatal("counter saw no requests")
	}
	for call, n := range counts {
		if call.Operation == "Scan" || call.Operation == "TransactWriteItems" || call.Operation == "TransactGetItems" {
			t.Errorf("%s on %s: %d calls", call.Operation, call.Table, n)
		}
	}
}

func TestStore_AnExpiredConnectionIsGoneToReadersAndStaysExpired(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	exp := t0.Add(time.Hour).Unix()
	for _, id := range []string{"revoked", "peer"} {
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, RoomID: "room-1", UserID: "hong2", CompanyID: "apt001", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ExpireConnection(ctx, "revoked", t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "revoked")
	if !errors.Is(err, store.ErrExpired) || got.ExpiresAt != t0.Unix() || got.RoomID != "room-1" {
		t.Fatalf("GetConnection after expiry = %+v, %v; want the item, expiresAt now, and ErrExpired", got, err)
	}
	cs, err := s.RoomConnections(ctx, "room-1", t0)
	if err != nil || len(cs) != 1 || cs[0].ConnectionID != "peer" {
		t.Fatalf("RoomConnections = %+v, %v; want the peer only", cs, err)
	}
	// Never later than it was; a missing connection is not created.
	if err := s.ExpireConnection(ctx, "revoked", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetConnection(ctx, "revoked"); got.ExpiresAt != t0.Unix() {
		t.Fatalf("expired again later: expiresAt %d, want %d", got.ExpiresAt, t0.Unix())
	}
	if err := s.ExpireConnection(ctx, "never-existed", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetConnection(ctx, "never-existed"); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		t.Fatalf("a missing connection after ExpireConnection: %v, want ErrNotFound", err)
	}
}
