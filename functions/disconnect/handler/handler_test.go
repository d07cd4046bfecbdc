package handler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/store"
)

type env struct {
	testkit.Env
	h *Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := testkit.NewEnv(t)
	return &env{Env: e, h: New(e.Store, e.Log)}
}

func (e *env) put(t *testing.T, connID string) {
	t.Helper()
	testkit.Put(t, e.Store.PutConnection, store.Connection{ConnectionID: connID, RoomID: "room-0000a001",
		UserID: "hong2", CompanyID: "apt001", ExpiresAt: time.Now().Add(time.Hour).Unix()})
}

func (e *env) call(t *testing.T, req events.APIGatewayWebsocketProxyRequest) {
	t.Helper()
	resp, err := e.h.Handle(context.Background(), req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Handle = %+v, %v; want 200", resp, err)
	}
}

func TestDisconnect_DeletesTheConnectionAndIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.put(t, "conn-1")
	e.put(t, "conn-2")
	for _, id := range []string{"conn-1", "conn-1", "never-connected", ""} {
		e.call(t, testkit.DisconnectEvent(id))
	}
	if _, err := e.Store.GetConnection(context.Background(), "conn-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("conn-1 still there: %v", err)
	}
	if _, err := e.Store.GetConnection(context.Background(), "conn-2"); err != nil {
		t.Fatalf("conn-2 was touched: %v", err)
	}
}

func TestDisconnect_StoreFailureStillAnswers200(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.put(t, "conn-1")
	testkit.Throttle(t, "DeleteItem", e.Tables.Connections, -1)
	e.call(t, testkit.DisconnectEvent("conn-1"))
}

func TestDisconnect_SampleEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var req events.APIGatewayWebsocketProxyRequest
	testkit.ReadEvent(t, "disconnect.json", &req)
	e.put(t, req.RequestContext.ConnectionID)
	e.call(t, req)
	e.call(t, req) // delivered twice
	if _, err := e.Store.GetConnection(context.Background(), req.RequestContext.ConnectionID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("connection still there: %v", err)
	}
}

func TestDisconnect_GivesTheRoomSocketSlotBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	for i, id := range []string{"conn-1", "conn-2"} {
		sl := store.SocketSlot{Key: store.SocketSlotKey("room-0000a001", i), Holder: id, TakenAt: now.UnixMilli(), ExpiresAt: exp}
		if ok, err := e.Store.TakeSocketSlot(ctx, sl, now); err != nil || !ok {
			t.Fatalf("take %s: %v %v", sl.Key, ok, err)
		}
		testkit.Put(t, e.Store.PutConnection, store.Connection{ConnectionID: id, RoomID: "room-0000a001", ExpiresAt: exp, Slot: sl.Key})
	}
	e.call(t, testkit.DisconnectEvent("conn-1"))
	slots, err := e.Store.SocketSlots(ctx, "room-0000a001", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slots[0].Free(now) || slots[1].Holder != "conn-2" {
		t.Fatalf("slots after conn-1's $disconnect: %+v; want slot 0 free, slot 1 conn-2's", slots)
	}
}
