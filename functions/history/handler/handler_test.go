package handler

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// The callers: hong2 owns the rooms; kim, hong2 of another company and
// an agent may not read them here.
var hong2, kim, other, agent1 = testkit.Hong2, testkit.Kim, testkit.Hong2Book001, testkit.Agent(1)

type env struct {
	testkit.Env
	h *Handler
}

// newEnv returns the handler over fresh tables holding hong2's room-1 with
// a question, its complete answer, a question whose answer failed part
// way, and that partial answer.
func newEnv(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	e := &env{Env: testkit.NewEnv(t)}
	e.h = New(e.Store, testkit.Tokens(), e.Log)
	room := store.Room{RoomID: "room-1", CompanyID: "apt001", UserID: "hong2", RoomName: "hong2", Members: []string{},
		Status: store.RoomStatusBot, CreatedAt: 100, LastActivityAt: 200}
	testkit.Put(t, e.Store.CreateRoom, room)
	testkit.Put(t, e.Store.PutMessage, []store.Message{
		{RoomID: "room-1", At: 1000, MessageID: "m-q1", Role: store.RoleUser, Text: "관리비는 언제 내나요?", UserName: "고객-275b", ClientMessageID: "c-1"},
		{RoomID: "room-1", At: 1001, MessageID: "m-a1", Role: store.RoleBot, Text: "매월 25일입니다.\n", Outcome: store.OutcomeComplete},
		{RoomID: "room-1", At: 2000, MessageID: "m-q2", Role: store.RoleUser, Text: "주차는요?", UserName: "고객-275b"},
		{RoomID: "room-1", At: 2001, MessageID: "m-a2", Role: store.RoleBot, Text: "주차", Outcome: "RAG_STREAM_INTERRUPTED"},
	}...)
	return e
}

// get is a GET of routeKey by id (no token for nil), of room roomID
// unless empty.
func (e *env) get(t *testing.T, routeKey, rawQuery, roomID string, id *auth.Identity) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := testkit.HTTPEvent{Route: routeKey, Query: rawQuery}
	if roomID != "" {
		ev.Params = map[string]string{"roomId": roomID}
	}
	if id != nil {
		ev.Authorization = testkit.Bearer(t, *id)
	}
	return testkit.Call(t, e.h.Handle, ev.Request())
}

func TestHistory_IsDesignsShapeOldestFirstWithRolesAndOutcomes(t *testing.T) {
	e := newEnv(t)
	resp := e.get(t, RouteMessages, "", "room-1", &hong2)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	if got, want := testkit.KeysInOrder(t, resp.Body), []string{"roomId", "status", "messages", "nextCursor"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	want := `{"roomId":"room-1","status":"BOT","messages":[` +
		`{"messageId":"m-q1","role":"user","text":"관리비는 언제 내나요?","createdAt":1000,"userName":"고객-275b","clientMessageId":"c-1"},` +
		`{"messageId":"m-a1","role":"bot","text":"매월 25일입니다.\n","createdAt":1001,"outcome":"complete"},` +
		`{"messageId":"m-q2","role":"user","text":"주차는요?","createdAt":2000,"userName":"고객-275b"},` +
		`{"messageId":"m-a2","role":"bot","text":"주차","createdAt":2001,"outcome":"RAG_STREAM_INTERRUPTED"}],"nextCursor":null}`
	if resp.Body != want {
		t.Fatalf("body\n%s\nwant\n%s", resp.Body, want)
	}
}

func TestHistory_PagesNewestFirstThroughOpaqueCursors(t *testing.T) {
	e := newEnv(t)
	var got []string
	testkit.Pages("limit=3", "before", 5, func(q string) *string {
		resp := e.get(t, RouteMessages, q, "room-1", &hong2)
		var p apigw.MessagesPage
		if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &p) != nil {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		var ids []string
		for _, m := range p.Messages {
			ids = append(ids, m.MessageID)
		}
		got = append(got, strings.Join(ids, ","))
		return p.NextCursor
	})
	if want := []string{"m-a1,m-q2,m-a2", "m-q1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pages %q, want %q", got, want)
	}
}

func TestRooms_TheCallersRoomsNewestFirstPaged(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		testkit.Put(t, e.Store.CreateRoom, store.Room{RoomID: fmt.Sprintf("room-n%d", i), CompanyID: "apt001", UserID: "hong2", Members: []string{}, Status: store.RoomStatusBot, CreatedAt: int64(1000 + i)})
	}
	testkit.Put(t, e.Store.CreateRoom, []store.Room{
		{RoomID: "room-kim", CompanyID: "apt001", UserID: "kim", Members: []string{}, CreatedAt: 5000},
		{RoomID: "room-oth", CompanyID: "book001", UserID: "hong2", Members: []string{}, CreatedAt: 5000},
	}...)
	var got []string
	pages := 0
	testkit.Pages("limit=2", "cursor", 5, func(q string) *string {
		resp := e.get(t, RouteRooms, q, "", &hong2)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
		if got, want := testkit.KeysInOrder(t, resp.Body), []string{"rooms", "nextCursor"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("keys %v, want %v", got, want)
		}
		var p apigw.RoomsPage
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range p.Rooms {
			got = append(got, r.RoomID)
		}
		return p.NextCursor
	})
	if want := []string{"room-n2", "room-n1", "room-n0", "room-1"}; !reflect.DeepEqual(got, want) || pages != 2 {
		t.Fatalf("rooms %v in %d pages, want %v in 2", got, pages, want)
	}
}

func TestReads_RefuseBadInputAndForeignRoomsWithClearErrors(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 65)
	tests := []struct {
		name           string
		route, q, room string
		id             *auth.Identity
		status         int
		code           string
	}{
		{"no token", RouteMessages, "", "room-1", nil, 401, "UNAUTHORIZED"},
		{"an agent's token", RouteMessages, "", "room-1", &agent1, 403, ""},
		{"another customer's room", RouteMessages, "", "room-1", &kim, 404, "ROOM_NOT_FOUND"},
		{"another company's customer of the same id", RouteMessages, "", "room-1", &other, 404, "ROOM_NOT_FOUND"},
		{"an unknown room", RouteMessages, "", "room-nope", &hong2, 404, "ROOM_NOT_FOUND"},
		{"a malformed room id", RouteMessages, "", "room-1'%20OR%201=1", &hong2, 400, "BAD_REQUEST"},
		{"an oversize room id", RouteMessages, "", long, &hong2, 400, "BAD_REQUEST"},
		{"limit 0", RouteMessages, "limit=0", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"limit 201", RouteMessages, "limit=201", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"limit not a number", RouteMessages, "limit=ten", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"limit negative", RouteMessages, "limit=-1", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"limit twice", RouteMessages, "limit=1&limit=2", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"a forged cursor", RouteMessages, "before=eyJyIjoicm9vbS0xIn0", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"a cursor of garbage", RouteMessages, "before=%F0%9F%98%80%00", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"a malformed query", RouteMessages, "limit=%zz", "room-1", &hong2, 400, "BAD_REQUEST"},
		{"rooms: limit 101", RouteRooms, "limit=101", "", &hong2, 400, "BAD_REQUEST"},
		{"rooms: a forged cursor", RouteRooms, "cursor=abc", "", &hong2, 400, "BAD_REQUEST"},
		{"rooms: limit 1.5", RouteRooms, "limit=1.5", "", &hong2, 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.get(t, tt.route, tt.q, tt.room, tt.id)
			b := testkit.ErrorBody(t, resp.Body)
			if resp.StatusCode != tt.status || (tt.code != "" && b.Code != tt.code) || b.Message == "" {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, resp.Body, tt.status, tt.code)
			}
		})
	}
	// A cursor of another room of the same customer is refused too.
	testkit.Put(t, e.Store.CreateRoom, store.Room{RoomID: "room-2", CompanyID: "apt001", UserID: "hong2", Members: []string{}})
	resp := e.get(t, RouteMessages, "limit=1", "room-1", &hong2)
	var p apigw.MessagesPage
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || p.NextCursor == nil {
		t.Fatalf("%s", resp.Body)
	}
	if resp := e.get(t, RouteMessages, "before="+*p.NextCursor, "room-2", &hong2); resp.StatusCode != 400 {
		t.Errorf("room-1's cursor on room-2: %d %s, want 400", resp.StatusCode, resp.Body)
	}
}

func TestHistory_SampleEvents(t *testing.T) {
	e := newEnv(t)
	testkit.Put(t, e.Store.CreateRoom, store.Room{RoomID: "room-52d2b5b6", CompanyID: "apt001", UserID: "hong2", Members: []string{}})
	for _, name := range []string{"history-rooms.json", "history-messages.json"} {
		if resp := testkit.SampleHTTP(t, e.h.Handle, name, hong2); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, resp.Body)
		}
	}
}
