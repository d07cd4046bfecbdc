package handler

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// sockets is a fake @connections: ids in open answer GET, others are gone.
type sockets struct {
	mu    sync.Mutex
	open  map[string]bool
	asked []string
}

func (s *sockets) GetConnection(_ context.Context, in *apigatewaymanagementapi.GetConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, *in.ConnectionId)
	if s.open[*in.ConnectionId] {
		return &apigatewaymanagementapi.GetConnectionOutput{}, nil
	}
	return nil, &types.GoneException{}
}

func capEnv(t *testing.T, sk *sockets) *env {
	e := newEnv(t)
	e.h.Cap = Cap{Max: 10, Store: e.Store, Probe: func(string) Prober { return sk }}
	return e
}

// fill stores n connections of room-0000a001, connected a minute apart
// (conn-00 the oldest).
func (e *env) fill(t *testing.T, n int, now time.Time) {
	for i := range n {
		if err := e.Store.PutConnection(context.Background(), store.Connection{
			ConnectionID: fmt.Sprintf("conn-%02d", i), RoomID: "room-0000a001", UserID: "hong2", CompanyID: "apt001",
			Role: store.UserRoleCustomer, ConnectedAt: now.Add(time.Duration(i-n) * time.Minute).UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) dial(t *testing.T, id string, who auth.Identity) dialed {
	t.Helper()
	resp := e.call(t, request(id, map[string][]string{"token": {testkit.Mint(t, who, time.Now())}, "roomId": {"room-0000a001"}}))
	return dialed{status: resp.StatusCode, body: resp.Body}
}

type dialed struct {
	status int
	body   string
}

func TestConnect_EleventhSocketOfARoomIsRefused(t *testing.T) {
	t.Parallel()
	sk := &sockets{open: map[string]bool{}}
	e := capEnv(t, sk)
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
	r := e.dial(t, "live-10", testkit.Hong2)
	if r.status != http.StatusTooManyRequests || testkit.ErrorBody(t, r.body).Code != apigw.CodeTooManySockets {
		t.Fatalf("11th socket: %d %s, want 429 %s", r.status, r.body, apigw.CodeTooManySockets)
	}
	if _, err := e.Store.GetConnection(context.Background(), "live-10"); err == nil {
		t.Fatal("the refused socket was stored")
	}
	if len(sk.asked) != 10 {
		t.Fatalf("@connections asked about %d sockets, want all 10 (none was gone)", len(sk.asked))
	}
	// One closes without $disconnect: the next handshake finds it gone.
	sk.open["live-03"] = false
	if r := e.dial(t, "live-11", testkit.Hong2); r.status != 200 {
		t.Fatalf("after a lost $disconnect: %d %s", r.status, r.body)
	}
	if _, err := e.Store.GetConnection(context.Background(), "live-03"); err == nil {
		t.Fatal("the gone connection was not deleted")
	}
}

func TestConnect_RoomWhoseTenItemsAreStaleStillAcceptsANewSocket(t *testing.T) {
	t.Parallel()
	sk := &sockets{open: map[string]bool{}} // every stored socket is gone
	e := capEnv(t, sk)
	now := time.Now()
	e.fill(t, 10, now)
	if r := e.dial(t, "fresh", testkit.Hong2); r.status != 200 {
		t.Fatalf("new socket in a room of 10 stale items: %d %s", r.status, r.body)
	}
	// Only as many as needed were checked, oldest first.
	if len(sk.asked) != 1 || sk.asked[0] != "conn-00" {
		t.Fatalf("@connections asked about %v, want the oldest only", sk.asked)
	}
	conns, err := e.Store.RoomConnections(context.Background(), "room-0000a001", now)
	if err != nil || len(conns) != 10 {
		t.Fatalf("room holds %d connections (%v), want 10", len(conns), err)
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
	resp := e.call(t, request("conn-old", map[string][]string{"token": {token}, "roomId": {"room-0000a001"}}))
	if resp.StatusCode != 401 {
		t.Fatalf("old token: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	if _, err := e.Store.GetConnection(ctx, "conn-old"); err == nil {
		t.Fatal("the refused connection was stored")
	}
}
