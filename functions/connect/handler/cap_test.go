package handler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	disconnect "github.com/ragchat/ragchat/functions/disconnect/handler"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// sockets is a fake @connections: ids in open answer GET, others are
// gone; with hang set every GET waits for its context to end instead.
type sockets struct {
	mu    sync.Mutex
	open  map[string]bool
	asked []string
	hang  bool
}

func (s *sockets) GetConnection(ctx context.Context, in *apigatewaymanagementapi.GetConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error) {
	s.mu.Lock()
	s.asked = append(s.asked, *in.ConnectionId)
	hang, open := s.hang, s.open[*in.ConnectionId]
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if open {
		return &apigatewaymanagementapi.GetConnectionOutput{}, nil
	}
	return nil, &types.GoneException{}
}

// capEnv is a parallel test's connect handler with a cap of 10 over the
// fake @connections it returns (every socket gone until marked open), its
// clock at now.
func capEnv(t *testing.T, now time.Time) (*env, *sockets) {
	t.Parallel()
	sk := &sockets{open: map[string]bool{}}
	e := newEnv(t)
	e.h.Cap = Cap{Max: 10, Probe: func(string) Prober { return sk }}
	e.at(now)
	return e, sk
}

// at sets the handler's clock.
func (e *env) at(now time.Time) { e.h.now = func() time.Time { return now } }

// fill connects n sockets conn-00 .. conn-<n-1> to room-0000a001 through
// the handler, a second apart ending at now (conn-00 the oldest), and sets
// the clock back to now. The tokens live an hour from issuedAt.
func (e *env) fill(t *testing.T, n int, now, issuedAt time.Time) {
	t.Helper()
	for i := range n {
		e.at(now.Add(time.Duration(i-n) * time.Second))
		id := fmt.Sprintf("conn-%02d", i)
		resp := e.call(t, testkit.ConnectEvent(id, map[string][]string{"token": {testkit.Mint(t, testkit.Hong2, issuedAt)}, "roomId": {"room-0000a001"}}))
		if resp.StatusCode != 200 {
			t.Fatalf("socket %s: %d %s", id, resp.StatusCode, resp.Body)
		}
	}
	e.at(now)
}

func (e *env) dial(t *testing.T, id string, who auth.Identity) dialed {
	t.Helper()
	resp := e.call(t, testkit.ConnectEvent(id, map[string][]string{"token": {testkit.Mint(t, who, time.Now())}, "roomId": {"room-0000a001"}}))
	return dialed{status: resp.StatusCode, body: resp.Body}
}

type dialed struct {
	status int
	body   string
}

// holders returns the connections that hold the room's socket slots.
func (e *env) holders(t *testing.T, now time.Time) map[string]bool {
	t.Helper()
	slots, err := e.Store.SocketSlots(context.Background(), "room-0000a001", 10)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, sl := range slots {
		if !sl.Free(now) {
			held[sl.Holder] = true
		}
	}
	return held
}

// stored fails unless the room's live connection items are exactly ids.
func (e *env) stored(t *testing.T, now time.Time, ids map[string]bool) {
	t.Helper()
	conns, err := e.Store.RoomConnections(context.Background(), "room-0000a001", now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range conns {
		got[c.ConnectionID] = true
	}
	if !maps.Equal(got, ids) {
		t.Fatalf("the room's connections are %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(ids)))
	}
}

func TestConnect_EleventhSocketOfARoomIsRefused(t *testing.T) {
	now := time.Now()
	e, sk := capEnv(t, now)
	for i := range 10 {
		id := fmt.Sprintf("live-%02d", i)
		sk.open[id] = true
		if r := e.dial(t, id, testkit.Hong2); r.status != 200 {
			t.Fatalf("socket %d: %d %s", i+1, r.status, r.body)
		}
	}
	if len(sk.asked) != 0 {
		t.Fatalf("@connections asked %v before the room was full", sk.asked)
	}
	// At once: the ten may still be in their handshakes, nobody is asked.
	r := e.dial(t, "live-10", testkit.Hong2)
	if r.status != http.StatusTooManyRequests || testkit.ErrorBody(t, r.body).Code != apigw.CodeTooManySockets {
		t.Fatalf("11th socket: %d %s, want 429 %s", r.status, r.body, apigw.CodeTooManySockets)
	}
	if len(sk.asked) != 0 {
		t.Fatalf("@connections asked %v about slots younger than the handshake grace", sk.asked)
	}
	// A minute later every holder is asked about, and every one is open.
	e.at(now.Add(time.Minute))
	r = e.dial(t, "live-10", testkit.Hong2)
	if r.status != http.StatusTooManyRequests || testkit.ErrorBody(t, r.body).Code != apigw.CodeTooManySockets {
		t.Fatalf("11th socket a minute later: %d %s, want 429 %s", r.status, r.body, apigw.CodeTooManySockets)
	}
	if _, err := e.Store.GetConnection(context.Background(), "live-10"); err == nil {
		t.Fatal("the refused socket was stored")
	}
	if len(sk.asked) != 10 {
		t.Fatalf("@connections asked about %d sockets, want all 10 (none was gone)", len(sk.asked))
	}
	// One closes without $disconnect: the next handshake finds it gone.
	sk.mu.Lock()
	sk.open["live-03"] = false
	sk.mu.Unlock()
	if r := e.dial(t, "live-11", testkit.Hong2); r.status != 200 {
		t.Fatalf("after a lost $disconnect: %d %s", r.status, r.body)
	}
	if _, err := e.Store.GetConnection(context.Background(), "live-03"); err == nil {
		t.Fatal("the gone connection was not deleted")
	}
	if h := e.holders(t, now); len(h) != 10 || h["live-03"] || !h["live-11"] {
		t.Fatalf("slot holders %v: want live-11 in live-03's place", h)
	}
}

func TestConnect_ThirtyHandshakesAtOnceGiveExactlyTen(t *testing.T) {
	e, sk := capEnv(t, time.Now())
	for i := range 30 {
		sk.open[fmt.Sprintf("par-%02d", i)] = true // every socket stays open
	}
	token := testkit.Mint(t, testkit.Hong2, time.Now())
	statuses := make([]int, 30)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			resp, err := e.h.Handle(context.Background(), testkit.ConnectEvent(fmt.Sprintf("par-%02d", i), map[string][]string{"token": {token}, "roomId": {"room-0000a001"}}))
			if err != nil {
				t.Errorf("Handle: %v", err)
			}
			if resp.StatusCode == http.StatusTooManyRequests && testkit.ErrorBody(t, resp.Body).Code != apigw.CodeTooManySockets {
				t.Errorf("429 with body %s", resp.Body)
			}
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	accepted := map[string]bool{}
	refused := 0
	for i, st := range statuses {
		switch st {
		case 200:
			accepted[fmt.Sprintf("par-%02d", i)] = true
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Errorf("handshake %d: status %d", i, st)
		}
	}
	if len(accepted) != 10 || refused != 20 {
		t.Fatalf("%d accepted and %d refused with 429, want exactly 10 and 20", len(accepted), refused)
	}
	now := time.Now()
	e.stored(t, now, accepted)
	if h := e.holders(t, now); !maps.Equal(h, accepted) {
		t.Fatalf("slot holders %v, want the accepted %v", h, accepted)
	}
}

func TestConnect_RoomWhoseTenSlotsAreHeldByGoneSocketsStillAcceptsANewSocket(t *testing.T) {
	now := time.Now()
	e, sk := capEnv(t, now) // every socket is gone: no $disconnect came
	e.fill(t, 10, now, now.Add(-time.Minute))
	e.at(now.Add(time.Minute))
	if r := e.dial(t, "fresh", testkit.Hong2); r.status != 200 {
		t.Fatalf("new socket in a room of 10 gone sockets: %d %s", r.status, r.body)
	}
	// Only as many as needed were checked, oldest first.
	if len(sk.asked) != 1 || sk.asked[0] != "conn-00" {
		t.Fatalf("@connections asked about %v, want the oldest only", sk.asked)
	}
	want := map[string]bool{"fresh": true}
	for i := 1; i < 10; i++ {
		want[fmt.Sprintf("conn-%02d", i)] = true
	}
	e.stored(t, now, want)
	if h := e.holders(t, now); !maps.Equal(h, want) {
		t.Fatalf("slot holders %v, want %v", h, want)
	}
}

func TestConnect_DisconnectGivesItsSlotBack(t *testing.T) {
	now := time.Now()
	e, sk := capEnv(t, now)
	e.fill(t, 10, now, now)
	for i := range 10 {
		sk.open[fmt.Sprintf("conn-%02d", i)] = true
	}
	disc := disconnect.New(e.Store, e.Log)
	resp, err := disc.Handle(context.Background(), testkit.DisconnectEvent("conn-04"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("$disconnect: %+v %v", resp, err)
	}
	if r := e.dial(t, "next", testkit.Hong2); r.status != 200 {
		t.Fatalf("after a $disconnect: %d %s", r.status, r.body)
	}
	if len(sk.asked) != 0 {
		t.Fatalf("@connections asked about %v: the freed slot should have been taken", sk.asked)
	}
	if h := e.holders(t, now); len(h) != 10 || h["conn-04"] || !h["next"] {
		t.Fatalf("slot holders %v: want next in conn-04's place", h)
	}
	if r := e.dial(t, "one-more", testkit.Hong2); r.status != http.StatusTooManyRequests {
		t.Fatalf("11th socket after the exchange: %d %s, want 429", r.status, r.body)
	}
}

func TestConnect_SlotsOfExpiredHoldersAreTaken(t *testing.T) {
	now := time.Now()
	e, sk := capEnv(t, now)
	e.fill(t, 10, now, now.Add(-50*time.Minute)) // tokens that expire in 10 minutes
	for i := range 10 {
		sk.open[fmt.Sprintf("conn-%02d", i)] = true // and sockets that stay open
	}
	if r := e.dial(t, "early", testkit.Hong2); r.status != http.StatusTooManyRequests {
		t.Fatalf("11th socket: %d %s, want 429", r.status, r.body)
	}
	e.at(now.Add(11 * time.Minute)) // the ten have expired: their connections count no more
	for i := range 10 {
		if r := e.dial(t, fmt.Sprintf("late-%02d", i), testkit.Hong2); r.status != 200 {
			t.Fatalf("socket %d after the holders expired: %d %s", i, r.status, r.body)
		}
	}
	if len(sk.asked) != 0 {
		t.Fatalf("@connections asked about %v: expired holders hold nothing", sk.asked)
	}
	if r := e.dial(t, "late-10", testkit.Hong2); r.status != http.StatusTooManyRequests {
		t.Fatalf("11th socket after the take-overs: %d %s, want 429", r.status, r.body)
	}
	late := map[string]bool{}
	for i := range 10 {
		late[fmt.Sprintf("late-%02d", i)] = true
	}
	e.stored(t, now.Add(11*time.Minute), late)
	// The expired connections are left to TTL (not deleted): a question on
	// one still learns that its token expired.
	if _, err := e.Store.GetConnection(context.Background(), "conn-00"); err != nil {
		t.Fatalf("the expired connection was deleted: %v", err)
	}
}

func TestConnect_ATokenOlderThanAPasswordResetIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	token := testkit.Mint(t, testkit.Hong2, time.Now())
	u, err := e.Store.GetUser(ctx, "apt001", "hong2")
	if err != nil {
		t.Fatal(err)
	}
	u.TokenVersion++ // what a password reset does (internal/users)
	if err := e.Store.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	resp := e.call(t, testkit.ConnectEvent("conn-old", map[string][]string{"token": {token}, "roomId": {"room-0000a001"}}))
	if resp.StatusCode != 401 {
		t.Fatalf("old token: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if _, err := e.Store.GetConnection(ctx, "conn-old"); err == nil {
		t.Fatal("the refused connection was stored")
	}
}

func TestConnect_CostsOfTheCap(t *testing.T) {
	now := time.Now()
	e, _ := capEnv(t, now)
	c := testkit.NewCounter(t, e.Tables)
	want := func(what string, calls map[dynamo.Call]int) {
		t.Helper()
		if got := c.Counts(); !maps.Equal(got, dynamo.Counts(calls)) {
			t.Errorf("%s cost %v, want %v", what, got, calls)
		}
		c.Reset()
	}
	rooms, users, conns := e.Tables.Rooms, e.Tables.Users, e.Tables.Connections
	// An empty room: the random place is free.
	if r := e.dial(t, "first", testkit.Hong2); r.status != 200 {
		t.Fatalf("first socket: %d %s", r.status, r.body)
	}
	want("a $connect into an empty room", map[dynamo.Call]int{
		{Operation: "GetItem", Table: rooms}: 1, {Operation: "GetItem", Table: users}: 1, {Operation: "PutItem", Table: conns}: 2,
	})
	// $disconnect: the connection, then its slot.
	if err := e.Store.DeleteConnection(context.Background(), "first"); err != nil {
		t.Fatal(err)
	}
	want("a $disconnect", map[dynamo.Call]int{{Operation: "DeleteItem", Table: conns}: 2})
	e.fill(t, 10, now, now)
	c.Reset()
	// A full room whose holders are all in the handshake grace: one
	// failed take, one read of the slots, no @connections GET.
	if r := e.dial(t, "eleventh", testkit.Hong2); r.status != http.StatusTooManyRequests {
		t.Fatalf("11th socket: %d %s", r.status, r.body)
	}
	want("a refused $connect", map[dynamo.Call]int{
		{Operation: "GetItem", Table: rooms}: 1, {Operation: "GetItem", Table: users}: 1,
		{Operation: "PutItem", Table: conns}: 1, {Operation: "BatchGetItem", Table: conns}: 1,
	})
	// A minute later the oldest holder is gone (the fake @connections
	// knows none of them as open): its slot is taken over and its
	// connection deleted, one DeleteItem (the slot is no longer its own to
	// give back).
	e.at(now.Add(time.Minute))
	if r := e.dial(t, "twelfth", testkit.Hong2); r.status != 200 {
		t.Fatalf("socket after a lost $disconnect: %d %s", r.status, r.body)
	}
	want("a $connect that takes over a gone socket's slot", map[dynamo.Call]int{
		{Operation: "GetItem", Table: rooms}: 1, {Operation: "GetItem", Table: users}: 1,
		{Operation: "PutItem", Table: conns}: 3, {Operation: "BatchGetItem", Table: conns}: 1,
		{Operation: "DeleteItem", Table: conns}: 1,
	})
}

// failingPut is the store whose PutConnection fails.
type failingPut struct{ *store.Store }

func (failingPut) PutConnection(context.Context, store.Connection) error {
	return errors.New("injected: put connection")
}

func TestConnect_AConnectionNotStoredGivesItsSlotBack(t *testing.T) {
	now := time.Now()
	e, _ := capEnv(t, now)
	h := New(failingPut{e.Store}, testkit.Tokens(), e.Log)
	h.Cap, h.now = e.h.Cap, e.h.now
	resp := testkit.Call(t, h.Handle, testkit.ConnectEvent("lost", map[string][]string{"token": {testkit.Mint(t, testkit.Hong2, now)}, "roomId": {"room-0000a001"}}))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("$connect whose connection cannot be stored: %d %s, want 500", resp.StatusCode, resp.Body)
	}
	if h := e.holders(t, now); len(h) != 0 {
		t.Fatalf("slot holders %v after the failed $connect, want none", h)
	}
}

func TestConnect_AHangingConnectionsAPIIsAskedWithinTheProbeBudget(t *testing.T) {
	now := time.Now()
	e, sk := capEnv(t, now)
	e.fill(t, 10, now, now.Add(-time.Minute)) // every holder gone...
	sk.hang = true                            // ...but @connections never answers
	e.h.Cap.probeBudget = 100 * time.Millisecond
	e.at(now.Add(time.Minute))
	if r := e.dial(t, "eleventh", testkit.Hong2); r.status != http.StatusTooManyRequests {
		t.Fatalf("11th socket: %d %s, want 429 (no holder proved gone)", r.status, r.body)
	}
	// The first GET spent the budget (its own 1 s bound is longer); no
	// other holder was asked.
	if len(sk.asked) != 1 || sk.asked[0] != "conn-00" {
		t.Fatalf("@connections asked about %v, want the oldest only", sk.asked)
	}
}
