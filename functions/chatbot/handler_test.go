package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ragchat/ragchat/internal/testenv"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

var (
	testSecret = []byte("test-secret-test-secret-test-secret!")
	hong2      = auth.Identity{UserID: "hong2", CompanyID: "apt001", Role: "CUSTOMER", Name: "고객-275b"}
)

const traceToken = "eyJ1c2VySWQiOiJob25nMiIsInVzZXJOYW1lIjoi6rOg6rCdLTI3NWIiLCJyb2xlIjoiQ1VTVE9NRVIiLCJlbWFpbCI6ImhvbmcyQGV4YW1wbGUuY29tIiwidG9rZW4iOm51bGwsInJvb21JZCI6bnVsbCwiY29tcGFueUlkIjoiYXB0MDAxIn0="

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	h    *handler
	st   *store.Store
	logs *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, tables := testenv.DynamoDB(t)
	st := store.New(db, tables)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &env{h: newHandler(st, auth.NewTokens(testSecret, time.Hour), log), st: st, logs: logs}
}

func mint(t *testing.T, id auth.Identity) string {
	t.Helper()
	s, err := auth.NewTokens(testSecret, time.Hour).Issue(id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func request(authorization string) events.APIGatewayV2HTTPRequest {
	r := events.APIGatewayV2HTTPRequest{RouteKey: "POST /api/customer/chatbot", RawPath: "/api/customer/chatbot"}
	if authorization != "" {
		r.Headers = map[string]string{"authorization": authorization}
	}
	return r
}

func (e *env) call(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := e.h.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	return resp
}

func keysInOrder(t *testing.T, body string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("body %q is not an object", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// checkRoomResponse checks the trace's room shape and returns the room id.
func checkRoomResponse(t *testing.T, e *env, resp events.APIGatewayV2HTTPResponse, owner auth.Identity) string {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	want := []string{"roomId", "roomName", "members", "status", "assignedAgent", "createdAt", "lastActivityAt", "custId"}
	if got := keysInOrder(t, resp.Body); !reflect.DeepEqual(got, want) {
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
	room, err := e.st.GetRoom(context.Background(), roomID)
	if err != nil || room.CompanyID != owner.CompanyID || room.UserID != owner.UserID || room.Status != store.RoomStatusBot {
		t.Fatalf("stored room = %+v, %v", room, err)
	}
	return roomID
}

func TestChatbot_CreatesARoomInTheTraceShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := checkRoomResponse(t, e, e.call(t, request("Bearer "+mint(t, hong2))), hong2)
	// Header spelled as a client sends it (the local stack may keep it).
	req := request("")
	req.Headers = map[string]string{"Authorization": "bearer " + mint(t, hong2)}
	second := checkRoomResponse(t, e, e.call(t, req), hong2)
	if first == second {
		t.Fatalf("two rooms got the same id %s", first)
	}
}

func TestChatbot_RefusesMissingAndInvalidTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	expired, err := auth.NewTokens(testSecret, time.Hour).Issue(hong2, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := auth.NewTokens([]byte("another-secret-another-secret-0123"), time.Hour).Issue(hong2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"sub": "hong2", "companyId": "apt001", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, header, challenge string
	}{
		{"no header", "", "Bearer"},
		{"empty bearer", "Bearer ", "Bearer"},
		{"basic scheme", "Basic aG9uZzI6MTIzNA==", "Bearer"},
		{"token without scheme", mint(t, hong2), "Bearer"},
		{"trace base64 token", "Bearer " + traceToken, `Bearer error="invalid_token"`},
		{"expired", "Bearer " + expired, `Bearer error="invalid_token"`},
		{"wrong key", "Bearer " + otherKey, `Bearer error="invalid_token"`},
		{"alg none", "Bearer " + none, `Bearer error="invalid_token"`},
		{"garbage", "Bearer a.b.c", `Bearer error="invalid_token"`},
	}
	for _, c := range cases {
		resp := e.call(t, request(c.header))
		var b apigw.ErrorBody
		if err := json.Unmarshal([]byte(resp.Body), &b); err != nil || resp.StatusCode != 401 || b.Code != apigw.CodeUnauthorized {
			t.Errorf("%s: status %d body %s", c.name, resp.StatusCode, resp.Body)
		}
		if got := resp.Headers["WWW-Authenticate"]; got != c.challenge {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", c.name, got, c.challenge)
		}
	}
	if _, err := e.st.LatestRoom(context.Background(), "apt001", "hong2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request created a room: %v", err)
	}
	if logs := e.logs.String(); strings.Contains(logs, otherKey) || strings.Contains(logs, expired) {
		t.Fatalf("logs contain a token:\n%s", logs)
	}
}

func TestChatbot_CollisionIsRetriedAndNeverOverwrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	taken := store.Room{RoomID: "room-0000beef", CompanyID: "apt002", UserID: "kim", RoomName: "kim", Members: []string{}, Status: "BOT", CreatedAt: 1, LastActivityAt: 1}
	if err := e.st.CreateRoom(ctx, taken); err != nil {
		t.Fatal(err)
	}
	ids := []string{"room-0000beef", "room-0000beef", "room-0000cafe"}
	var mu sync.Mutex
	e.h.newID = func() string {
		mu.Lock()
		defer mu.Unlock()
		id := ids[0]
		ids = ids[1:]
		return id
	}
	if got := checkRoomResponse(t, e, e.call(t, request("Bearer "+mint(t, hong2))), hong2); got != "room-0000cafe" {
		t.Fatalf("roomId = %s, want room-0000cafe", got)
	}
	if room, err := e.st.GetRoom(ctx, taken.RoomID); err != nil || !reflect.DeepEqual(room, taken) {
		t.Fatalf("taken room changed: %+v, %v", room, err)
	}

	e.h.newID = func() string { return taken.RoomID }
	resp := e.call(t, request("Bearer "+mint(t, hong2)))
	var b apigw.ErrorBody
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil || resp.StatusCode != 500 || b.Code != apigw.CodeInternal {
		t.Fatalf("only collisions: status %d body %s", resp.StatusCode, resp.Body)
	}
	if strings.Contains(resp.Body, taken.RoomID) {
		t.Fatalf("500 body leaks internals: %s", resp.Body)
	}
}

func TestChatbot_SampleEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "chatbot.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("events/chatbot.json: %v", err)
	}
	// As shipped, its token is signed with a key nobody has and long expired.
	if resp := e.call(t, req); resp.StatusCode != 401 {
		t.Fatalf("sample token: status %d, want 401: %s", resp.StatusCode, resp.Body)
	}
	req.Headers["authorization"] = "Bearer " + mint(t, hong2)
	checkRoomResponse(t, e, e.call(t, req), hong2)
}
