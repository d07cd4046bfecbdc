package handler

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

type env struct {
	testkit.Env
	h *Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := testkit.NewEnv(t)
	return &env{Env: e, h: New(e.Store, testkit.Tokens(), 20, e.Log)}
}

// request is a room creation with the Authorization header authorization
// (none when empty).
func request(authorization string) events.APIGatewayV2HTTPRequest {
	return testkit.HTTPEvent{Route: "POST /api/customer/chatbot", Authorization: authorization}.Request()
}

func (e *env) call(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return testkit.Call(t, e.h.Handle, req)
}

// checkRoomResponse checks the trace's room shape and returns the room id.
func checkRoomResponse(t *testing.T, e *env, resp events.APIGatewayV2HTTPResponse, owner auth.Identity) string {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	want := []string{"roomId", "roomName", "members", "status", "assignedAgent", "createdAt", "lastActivityAt", "custId"}
	if got := testkit.KeysInOrder(t, resp.Body); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatal(err)
	}
	roomID, _ := body["roomId"].(string)
	if !regexp.MustCompile(`^room-[0-9a-f]{8}$`).MatchString(roomID) {
		t.Fatalf("roomId = %q", roomID)
	}
	created, _ := body["createdAt"].(json.Number)
	if created == "" || body["lastActivityAt"] != created || !regexp.MustCompile(`^\d{13}$`).MatchString(string(created)) {
		t.Fatalf("times = %v / %v, want equal epoch ms", body["createdAt"], body["lastActivityAt"])
	}
	for k, v := range map[string]any{"roomName": owner.UserID, "members": []any{}, "status": "BOT", "assignedAgent": nil, "custId": nil} {
		if !reflect.DeepEqual(body[k], v) {
			t.Errorf("%s = %#v, want %#v", k, body[k], v)
		}
	}
	room, err := e.Store.GetRoom(context.Background(), roomID)
	if err != nil || room.CompanyID != owner.CompanyID || room.UserID != owner.UserID || room.Status != store.RoomStatusBot {
		t.Fatalf("stored room = %+v, %v", room, err)
	}
	return roomID
}

func TestChatbot_CreatesARoomInTheTraceShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := checkRoomResponse(t, e, e.call(t, request(testkit.Bearer(t, testkit.Hong2))), testkit.Hong2)
	// Header spelled as a client sends it (the local stack may keep it).
	req := request("")
	req.Headers = map[string]string{"Authorization": "bearer " + testkit.Mint(t, testkit.Hong2, time.Now())}
	second := checkRoomResponse(t, e, e.call(t, req), testkit.Hong2)
	if first == second {
		t.Fatalf("two rooms got the same id %s", first)
	}
}

func TestChatbot_RefusesMissingAndInvalidTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	expired := testkit.Mint(t, testkit.Hong2, now.Add(-2*time.Hour))
	otherKey := testkit.MintForeign(t, testkit.Hong2, now)
	none := testkit.MintUnsigned(t, testkit.Hong2, now)
	cases := []struct {
		name, header, challenge string
	}{
		{"no header", "", "Bearer"},
		{"empty bearer", "Bearer ", "Bearer"},
		{"basic scheme", "Basic aG9uZzI6MTIzNA==", "Bearer"},
		{"token without scheme", testkit.Mint(t, testkit.Hong2, time.Now()), "Bearer"},
		{"trace base64 token", "Bearer " + testkit.TraceToken, `Bearer error="invalid_token"`},
		{"expired", "Bearer " + expired, `Bearer error="invalid_token"`},
		{"wrong key", "Bearer " + otherKey, `Bearer error="invalid_token"`},
		{"alg none", "Bearer " + none, `Bearer error="invalid_token"`},
		{"garbage", "Bearer a.b.c", `Bearer error="invalid_token"`},
	}
	for _, c := range cases {
		resp := e.call(t, request(c.header))
		if resp.StatusCode != 401 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeUnauthorized {
			t.Errorf("%s: status %d body %s", c.name, resp.StatusCode, resp.Body)
		}
		if got := resp.Headers["WWW-Authenticate"]; got != c.challenge {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", c.name, got, c.challenge)
		}
	}
	if _, err := e.Store.LatestRoom(context.Background(), "apt001", "hong2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request created a room: %v", err)
	}
	if logs := e.Logs.String(); strings.Contains(logs, otherKey) || strings.Contains(logs, expired) {
		t.Fatalf("logs contain a token:\n%s", logs)
	}
}

func TestChatbot_CollisionIsRetriedAndNeverOverwrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	taken := store.Room{RoomID: "room-0000beef", CompanyID: "apt002", UserID: "kim", RoomName: "kim", Members: []string{}, Status: "BOT", CreatedAt: 1, LastActivityAt: 1}
	testkit.Put(t, e.Store.CreateRoom, taken)
	ids := []string{"room-0000beef", "room-0000beef", "room-0000cafe"}
	var mu sync.Mutex
	e.h.newID = func() string {
		mu.Lock()
		defer mu.Unlock()
		id := ids[0]
		ids = ids[1:]
		return id
	}
	if got := checkRoomResponse(t, e, e.call(t, request(testkit.Bearer(t, testkit.Hong2))), testkit.Hong2); got != "room-0000cafe" {
		t.Fatalf("roomId = %s, want room-0000cafe", got)
	}
	if room, err := e.Store.GetRoom(ctx, taken.RoomID); err != nil || !reflect.DeepEqual(room, taken) {
		t.Fatalf("taken room changed: %+v, %v", room, err)
	}

	e.h.newID = func() string { return taken.RoomID }
	resp := e.call(t, request(testkit.Bearer(t, testkit.Hong2)))
	if resp.StatusCode != 500 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeInternal {
		t.Fatalf("only collisions: status %d body %s", resp.StatusCode, resp.Body)
	}
	if strings.Contains(resp.Body, taken.RoomID) {
		t.Fatalf("500 body leaks internals: %s", resp.Body)
	}
}

func TestChatbot_SampleEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	checkRoomResponse(t, e, testkit.SampleHTTP(t, e.h.Handle, "chatbot.json", testkit.Hong2), testkit.Hong2)
}

func TestChatbot_AgentTokenIs403AndCreatesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp := e.call(t, request(testkit.Bearer(t, testkit.Agent(1))))
	if resp.StatusCode != 403 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeForbidden {
		t.Fatalf("status %d body %s; want 403 FORBIDDEN", resp.StatusCode, resp.Body)
	}
	if _, err := e.Store.LatestRoom(context.Background(), "apt001", "agent1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an agent's request created a room: %v", err)
	}
}

func TestChatbot_21stRoomInAnHourGetsRoomLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	e.h.now = func() time.Time { return now }
	token := "Bearer " + testkit.Mint(t, testkit.Hong2, now)
	var wg sync.WaitGroup
	statuses := make(chan int, 30)
	for range 30 { // at once: the window is counted atomically
		wg.Go(func() { statuses <- e.call(t, request(token)).StatusCode })
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[200] != 20 || count[429] != 10 {
		t.Fatalf("30 room creations: %v, want 20 created and 10 refused", count)
	}
	resp := e.call(t, request(token))
	retry, _ := strconv.Atoi(resp.Headers["Retry-After"])
	if resp.StatusCode != 429 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeRoomLimit || retry < 3590 || retry > 3600 {
		t.Fatalf("another room: %d %v %s; want 429 ROOM_LIMIT with Retry-After about an hour", resp.StatusCode, resp.Headers, resp.Body)
	}
	// Another user is not affected; the hour over, hong2 creates again.
	if resp := e.call(t, request("Bearer "+testkit.Mint(t, testkit.Kim, now))); resp.StatusCode != 200 {
		t.Fatalf("kim: %d %s", resp.StatusCode, resp.Body)
	}
	now = now.Add(time.Hour)
	if resp := e.call(t, request("Bearer "+testkit.Mint(t, testkit.Hong2, now))); resp.StatusCode != 200 {
		t.Fatalf("an hour later: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestChatbot_OnlyCustomersCreateRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range []string{store.UserRoleAgent, "ADMIN", "customer", ""} {
		id := testkit.Hong2
		id.Role = role
		resp := e.call(t, request(testkit.Bearer(t, id)))
		if resp.StatusCode != 403 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeForbidden {
			t.Errorf("role %q: %d %s, want 403", role, resp.StatusCode, resp.Body)
		}
	}
}

func TestChatbot_ATokenOlderThanAPasswordResetIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := testkit.Bearer(t, testkit.Hong2)
	if resp := e.call(t, request(token)); resp.StatusCode != 200 {
		t.Fatalf("before the reset: %d %s", resp.StatusCode, resp.Body)
	}
	u, err := e.Store.GetUser(context.Background(), "apt001", "hong2")
	if err != nil {
		t.Fatal(err)
	}
	u.TokenVersion++ // what a password reset does (internal/users)
	testkit.Put(t, e.Store.PutUser, u)
	if resp := e.call(t, request(token)); resp.StatusCode != 401 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeUnauthorized {
		t.Fatalf("after the reset: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	fresh := testkit.Hong2
	fresh.Version = u.TokenVersion
	if resp := e.call(t, request(testkit.Bearer(t, fresh))); resp.StatusCode != 200 {
		t.Fatalf("a token of the new version: %d %s", resp.StatusCode, resp.Body)
	}
}
