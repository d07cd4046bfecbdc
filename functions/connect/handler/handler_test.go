package handler

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/metrics/emftest"
	"github.com/ragchat/ragchat/shared/store"
)

type env struct {
	testkit.Env
	h *Handler
}

// newEnv returns a connect handler over fresh tables with rooms:
// room-0000a001 of apt001/hong2, room-0000a002 of apt001/kim and
// room-0000b001 of apt002/hong2 (same user id, another company).
func newEnv(t *testing.T) *env {
	t.Helper()
	e := testkit.NewEnv(t)
	for _, r := range []store.Room{
		{RoomID: "room-0000a001", CompanyID: "apt001", UserID: "hong2"},
		{RoomID: "room-0000a002", CompanyID: "apt001", UserID: "kim"},
		{RoomID: "room-0000b001", CompanyID: "apt002", UserID: "hong2"},
	} {
		r.Members, r.Status, r.RoomName = []string{}, store.RoomStatusBot, r.UserID
		testkit.Put(t, e.Store.CreateRoom, r)
	}
	return &env{Env: e, h: New(e.Store, testkit.Tokens(), e.Log)}
}

func (e *env) call(t *testing.T, req events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	t.Helper()
	return testkit.Call(t, e.h.Handle, req)
}

func TestConnect_OwnRoomIsAcceptedAndStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := time.Now()
	resp := e.call(t, testkit.ConnectEvent("conn-1", map[string][]string{"token": {testkit.Mint(t, testkit.Hong2, before)}, "roomId": {"room-0000a001"}}))
	after := time.Now()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	c, err := e.Store.GetConnection(context.Background(), "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.RoomID != "room-0000a001" || c.UserID != "hong2" || c.CompanyID != "apt001" || c.UserName != "고객-275b" {
		t.Fatalf("connection = %+v", c)
	}
	// The test token lives an hour, less than connectionLifetime: the
	// connection expires with it.
	if want := before.Add(time.Hour).Unix(); c.ExpiresAt != want {
		t.Fatalf("expiresAt = %d, want the token's exp %d (epoch s)", c.ExpiresAt, want)
	}
	if c.ConnectedAt < before.UnixMilli() || c.ConnectedAt > after.UnixMilli() {
		t.Fatalf("connectedAt = %d, want epoch ms in [%d, %d]", c.ConnectedAt, before.UnixMilli(), after.UnixMilli())
	}
	if conns, err := e.Store.RoomConnections(context.Background(), "room-0000a001", after); err != nil || len(conns) != 1 {
		t.Fatalf("RoomConnections = %+v, %v", conns, err)
	}
}

func TestConnect_RefusesBadTokensAndForeignRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	good := testkit.Mint(t, testkit.Hong2, now)
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"hong2"`), []byte(`"kim"`), 1)) + "." + parts[2]
	none := testkit.MintUnsigned(t, testkit.Hong2, now)
	otherKey := testkit.MintForeign(t, testkit.Hong2, now)
	q := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	cases := []struct {
		name   string
		query  map[string][]string
		status int
		code   string
	}{
		{"no query at all", nil, 401, apigw.CodeUnauthorized},
		{"no token", q("roomId", "room-0000a001"), 401, apigw.CodeUnauthorized},
		{"empty token", q("token", "", "roomId", "room-0000a001"), 401, apigw.CodeUnauthorized},
		{"trace base64 token", q("token", testkit.TraceToken, "roomId", "room-0000a001"), 401, apigw.CodeUnauthorized},
		{"expired token", q("token", testkit.Mint(t, testkit.Hong2, now.Add(-2*time.Hour)), "roomId", "room-0000a001"), 401, apigw.CodeUnauthorized},
		{"token issued in the future", q("token", testkit.Mint(t, testkit.Hong2, now.Add(time.Hour)), "roomId", "room-0000a001"), 401, apigw.CodeUnauthorized},
		{"alg none", q("token", none, "roomId", "room-0000a001"), 401, apigw.CodeUnauthorized},
		{"wrong key", q("token", otherKey, "roomId", "room-0000a001"), 401, apigw.CodeUnauthorized},
		{"tampered payload", q("token", tampered, "roomId", "room-0000a002"), 401, apigw.CodeUnauthorized},
		{"token given twice", q("token", good, "token", good, "roomId", "room-0000a001"), 400, apigw.CodeBadRequest},
		{"no roomId", q("token", good), 400, apigw.CodeBadRequest},
		{"roomId given twice", q("token", good, "roomId", "room-0000a001", "roomId", "room-0000a002"), 400, apigw.CodeBadRequest},
		{"roomId with slash", q("token", good, "roomId", "room-0000a001/../x"), 400, apigw.CodeBadRequest},
		{"roomId with injection", q("token", good, "roomId", `room" OR "1"="1`), 400, apigw.CodeBadRequest},
		{"roomId in unicode", q("token", good, "roomId", "방-1"), 400, apigw.CodeBadRequest},
		{"roomId invalid UTF-8", q("token", good, "roomId", "room-\xff"), 400, apigw.CodeBadRequest},
		{"unknown room", q("token", good, "roomId", "room-0000ffff"), 403, apigw.CodeForbidden},
		{"room of another user", q("token", good, "roomId", "room-0000a002"), 403, apigw.CodeForbidden},
		{"room of another company", q("token", testkit.Mint(t, auth.Identity{UserID: "hong2", CompanyID: "apt003"}, now), "roomId", "room-0000b001"), 403, apigw.CodeForbidden},
		{"same user id in another company", q("token", good, "roomId", "room-0000b001"), 403, apigw.CodeForbidden},
	}
	for _, c := range cases {
		resp := e.call(t, testkit.ConnectEvent("conn-x", c.query))
		if resp.StatusCode != c.status || testkit.ErrorBody(t, resp.Body).Code != c.code {
			t.Errorf("%s: status %d body %s; want %d %s", c.name, resp.StatusCode, resp.Body, c.status, c.code)
		}
	}
	if _, err := e.Store.GetConnection(context.Background(), "conn-x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused handshake stored a connection: %v", err)
	}
	// An unknown room and a foreign room are answered alike.
	unknown := e.call(t, testkit.ConnectEvent("conn-x", q("token", good, "roomId", "room-0000ffff")))
	foreign := e.call(t, testkit.ConnectEvent("conn-x", q("token", good, "roomId", "room-0000a002")))
	if !reflect.DeepEqual(unknown, foreign) {
		t.Fatalf("unknown room %+v, foreign room %+v", unknown, foreign)
	}
	logs := e.Logs.String()
	for _, tok := range []string{good, otherKey, tampered, testkit.TraceToken} {
		if strings.Contains(logs, tok) {
			t.Fatalf("logs contain a token:\n%s", logs)
		}
	}
}

func TestConnect_EventWithoutConnectionIDIs500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp := e.call(t, testkit.ConnectEvent("", map[string][]string{"token": {testkit.Mint(t, testkit.Hong2, time.Now())}, "roomId": {"room-0000a001"}}))
	if resp.StatusCode != 500 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeInternal {
		t.Fatalf("status %d body %s", resp.StatusCode, resp.Body)
	}
}

func TestConnect_StoreFailureRefusesWith500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	testkit.Throttle(t, "PutItem", e.Tables.Connections, -1)
	resp := e.call(t, testkit.ConnectEvent("conn-t", map[string][]string{"token": {testkit.Mint(t, testkit.Hong2, time.Now())}, "roomId": {"room-0000a001"}}))
	if resp.StatusCode != 500 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeInternal || strings.Contains(resp.Body, "Throughput") {
		t.Fatalf("status %d body %s", resp.StatusCode, resp.Body)
	}
}

func TestConnect_SampleEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	testkit.Put(t, e.Store.CreateRoom, store.Room{RoomID: "room-52d2b5b6", CompanyID: "apt001", UserID: "hong2",
		RoomName: "hong2", Members: []string{}, Status: store.RoomStatusBot})
	var req events.APIGatewayWebsocketProxyRequest
	testkit.ReadEvent(t, "connect.json", &req)
	// As shipped, its token is signed with a key nobody has and long expired.
	if resp := e.call(t, req); resp.StatusCode != 401 {
		t.Fatalf("sample token: status %d, want 401: %s", resp.StatusCode, resp.Body)
	}
	fresh := testkit.Mint(t, testkit.Hong2, time.Now())
	req.QueryStringParameters["token"] = fresh
	req.MultiValueQueryStringParameters["token"] = []string{fresh}
	if resp := e.call(t, req); resp.StatusCode != 200 {
		t.Fatalf("fresh token: status %d: %s", resp.StatusCode, resp.Body)
	}
	c, err := e.Store.GetConnection(context.Background(), req.RequestContext.ConnectionID)
	if err != nil || c.RoomID != "room-52d2b5b6" || c.UserName != "고객-275b" {
		t.Fatalf("connection = %+v, %v", c, err)
	}
}

func TestConnect_AgentJoinsAnyRoomOfItsCompanyOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	agent := testkit.Mint(t, testkit.Agent(1), now)
	for i, room := range []string{"room-0000a001", "room-0000a002"} {
		connID := []string{"conn-a", "conn-b"}[i]
		resp := e.call(t, testkit.ConnectEvent(connID, map[string][]string{"token": {agent}, "roomId": {room}}))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", room, resp.StatusCode, resp.Body)
		}
		c, err := e.Store.GetConnection(context.Background(), connID)
		if err != nil || c.Role != store.UserRoleAgent || c.UserID != "agent1" || c.UserName != "상담원-01" || c.RoomID != room {
			t.Fatalf("%s: connection = %+v, %v", room, c, err)
		}
	}
	// Another company's room, and a token of no known role, are refused
	// as an unknown room is.
	unknownRole := testkit.Mint(t, auth.Identity{UserID: "x", CompanyID: "apt001", Role: "ADMIN", Name: "x"}, now)
	for name, q := range map[string]map[string][]string{
		"another company's room": {"token": {agent}, "roomId": {"room-0000b001"}},
		"unknown room":           {"token": {agent}, "roomId": {"room-ffffffff"}},
		"unknown role":           {"token": {unknownRole}, "roomId": {"room-0000a001"}},
	} {
		resp := e.call(t, testkit.ConnectEvent("conn-x", q))
		if resp.StatusCode != 403 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeForbidden {
			t.Errorf("%s: status %d body %s; want 403", name, resp.StatusCode, resp.Body)
		}
	}
	if _, err := e.Store.GetConnection(context.Background(), "conn-x"); err == nil {
		t.Fatal("a refused connection was stored")
	}
}

func TestMetrics_RefusedHandshakesAreCountedByReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var buf bytes.Buffer
	e.h.Metrics = metrics.New(&buf, "ragchat/test")
	token := testkit.Mint(t, testkit.Hong2, time.Now())

	e.call(t, testkit.ConnectEvent("c1", map[string][]string{"token": {token}, "roomId": {"room-0000a001"}}))
	e.call(t, testkit.ConnectEvent("c2", map[string][]string{"roomId": {"room-0000a001"}}))
	e.call(t, testkit.ConnectEvent("c3", map[string][]string{"token": {"not-a-jwt"}, "roomId": {"room-0000a001"}}))
	e.call(t, testkit.ConnectEvent("c4", map[string][]string{"token": {token}, "roomId": {"room-0000a002"}}))
	e.call(t, testkit.ConnectEvent("c5", map[string][]string{"token": {token}}))

	lines := emftest.Lines(t, buf.Bytes())
	if c := emftest.Find(lines, "Connects"); len(c) != 1 || c[0].Dimensions["Function"] != "connect" || len(c[0].Dimensions) != 1 {
		t.Errorf("Connects lines %+v, want one", c)
	}
	reasons := map[string]float64{}
	for _, l := range emftest.Find(lines, "ConnectRefused") {
		reasons[l.Dimensions["Reason"]] += l.Metrics["ConnectRefused"]
	}
	want := map[string]float64{"UNAUTHORIZED": 2, "FORBIDDEN": 1, "BAD_REQUEST": 1}
	if len(reasons) != len(want) {
		t.Errorf("refusals by reason %v, want %v", reasons, want)
	}
	for r, n := range want {
		if reasons[r] != n {
			t.Errorf("refusals by reason %v, want %v", reasons, want)
		}
	}
}

// meetingStore makes the room read and the token-version read each wait,
// in their request, for the other to have started: a handshake succeeds
// only when the two are in flight at once (a bounded wait fails it
// otherwise).
type meetingStore struct {
	*store.Store
	room, user chan struct{}
}

func meet(started, other chan struct{}) error {
	close(started)
	select {
	case <-other:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the other read never started: the reads run one after the other")
	}
}

func (m meetingStore) GetRoom(ctx context.Context, roomID string) (store.Room, error) {
	if err := meet(m.room, m.user); err != nil {
		return store.Room{}, err
	}
	return m.Store.GetRoom(ctx, roomID)
}

func (m meetingStore) GetUser(ctx context.Context, companyID, userID string) (store.User, error) {
	if err := meet(m.user, m.room); err != nil {
		return store.User{}, err
	}
	return m.Store.GetUser(ctx, companyID, userID)
}

func TestConnect_RoomAndTokenVersionAreReadInParallel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.h.store = meetingStore{Store: e.Store, room: make(chan struct{}), user: make(chan struct{})}
	resp := e.call(t, testkit.ConnectEvent("conn-1", map[string][]string{"token": {testkit.Mint(t, testkit.Hong2, time.Now())}, "roomId": {"room-0000a001"}}))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
}
