package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// get is a GET of an agent read route with id's token.
func (e *env) get(t *testing.T, routeKey, rawQuery string, params map[string]string, id *auth.Identity) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return testkit.Call(t, e.h.Handle, httpEvent(t, routeKey, params, rawQuery, id))
}

func (e *env) queue(t *testing.T, rawQuery string, id *auth.Identity) (int, apigw.RoomsPage) {
	t.Helper()
	resp := e.get(t, RouteRooms, rawQuery, nil, id)
	var p apigw.RoomsPage
	if resp.StatusCode == 200 {
		if got, want := testkit.KeysInOrder(t, resp.Body), []string{"rooms", "nextCursor"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("keys %v, want %v", got, want)
		}
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, p
}

func TestRead_QueueIsTheCompanysWaitingRoomsLongestWaitingFirstPaged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	at := time.Now().UnixMilli()
	for i, id := range []string{"room-w2", "room-w0", "room-w1"} { // ask for a person in this order
		r := store.Room{RoomID: id, CompanyID: "apt001", UserID: "hong2", Members: []string{}, Status: store.RoomStatusBot, CreatedAt: at, LastActivityAt: at}
		testkit.Put(t, e.Store.CreateRoom, r)
		if _, _, err := e.Store.RequestHandoff(ctx, "apt001", id, at+int64(10*(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	other := store.Room{RoomID: "room-b", CompanyID: "book001", UserID: "reader1", Members: []string{}, Status: store.RoomStatusBot}
	testkit.Put(t, e.Store.CreateRoom, other)
	if _, _, err := e.Store.RequestHandoff(ctx, "book001", "room-b", at); err != nil {
		t.Fatal(err)
	}

	var got []string
	testkit.Pages("status=WAITING&limit=2", "cursor", 5, func(q string) *string {
		code, p := e.queue(t, q, &agent1)
		if code != 200 {
			t.Fatalf("queue: %d", code)
		}
		for _, r := range p.Rooms {
			got = append(got, r.RoomID)
		}
		return p.NextCursor
	})
	if want := []string{"room-w2", "room-w0", "room-w1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("WAITING pages = %v, want %v", got, want)
	}
	// No status means the waiting queue; BOT lists room-1 of newEnv.
	if code, p := e.queue(t, "", &agent1); code != 200 || len(p.Rooms) != 3 {
		t.Fatalf("default queue: %d %+v", code, p)
	}
	if code, p := e.queue(t, "status=BOT", &agent1); code != 200 || len(p.Rooms) != 1 || p.Rooms[0].RoomID != "room-1" || p.NextCursor != nil {
		t.Fatalf("BOT: %d %+v", code, p)
	}
	if code, p := e.queue(t, "status=WAITING", &bookAgent); code != 200 || len(p.Rooms) != 1 || p.Rooms[0].RoomID != "room-b" {
		t.Fatalf("book001's queue: %d %+v", code, p)
	}
}

func TestRead_RoomMessagesOfTheCompanyOnly(t *testing.T) {
	e := newEnv(t)
	if code, _, _ := e.call(t, "claim", "room-1", &agent1); code != 200 {
		t.Fatal("claim")
	}
	for i := range 3 {
		m := store.Message{RoomID: "room-1", At: time.Now().UnixMilli() + int64(100+i), MessageID: fmt.Sprintf("m-%d", i), Role: store.RoleUser, Text: fmt.Sprintf("질문 %d", i), UserName: "고객-275b"}
		testkit.Put(t, e.Store.PutMessage, m)
	}
	params := map[string]string{"roomId": "room-1"}
	resp := e.get(t, RouteMessages, "limit=3", params, &agent1)
	var p apigw.MessagesPage
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &p) != nil {
		t.Fatalf("messages: %d %s", resp.StatusCode, resp.Body)
	}
	if p.RoomID != "room-1" || p.Status != store.RoomStatusAgent || len(p.Messages) != 3 || p.NextCursor == nil ||
		p.Messages[2].Text != "질문 2" || p.Messages[2].UserName != "고객-275b" || p.Messages[2].Role != "user" {
		t.Fatalf("page: %+v", p)
	}
	resp = e.get(t, RouteMessages, "limit=3&before="+*p.NextCursor, params, &agent1)
	var older apigw.MessagesPage
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &older) != nil || len(older.Messages) != 1 || older.Messages[0].Event != store.EventAgentJoined || older.NextCursor != nil {
		t.Fatalf("older page: %d %s", resp.StatusCode, resp.Body)
	}
	hong2 := testkit.Hong2
	for name, c := range map[string]struct {
		params   map[string]string
		rawQuery string
		id       *auth.Identity
		status   int
		code     string
	}{
		"another company's agent": {params, "", &bookAgent, 404, apigw.CodeRoomNotFound},
		"unknown room":            {map[string]string{"roomId": "room-nope"}, "", &agent1, 404, apigw.CodeRoomNotFound},
		"customer token":          {params, "", &hong2, 403, apigw.CodeForbidden},
		"no token":                {params, "", nil, 401, apigw.CodeUnauthorized},
		"malformed room":          {map[string]string{"roomId": "room#1"}, "", &agent1, 400, apigw.CodeBadRequest},
		"limit 0":                 {params, "limit=0", &agent1, 400, apigw.CodeBadRequest},
		"limit 201":               {params, "limit=201", &agent1, 400, apigw.CodeBadRequest},
		"limit twice":             {params, "limit=1&limit=2", &agent1, 400, apigw.CodeBadRequest},
		"bad cursor":              {params, "before=zzz", &agent1, 400, apigw.CodeBadRequest},
	} {
		resp := e.get(t, RouteMessages, c.rawQuery, c.params, c.id)
		if resp.StatusCode != c.status || testkit.ErrorBody(t, resp.Body).Code != c.code {
			t.Errorf("%s: %d %s; want %d %s", name, resp.StatusCode, resp.Body, c.status, c.code)
		}
	}
}

func TestRead_QueueBadInputIs400(t *testing.T) {
	e := newEnv(t)
	for name, q := range map[string]string{
		"unknown status":  "status=SLEEPING",
		"lower case":      "status=waiting",
		"status twice":    "status=WAITING&status=BOT",
		"limit not a int": "limit=ten",
		"limit 101":       "limit=101",
		"bad cursor":      "cursor=!!",
		"foreign cursor":  "status=BOT&cursor=eyJyIjoicm9vbS0xIiwicCI6ImFwdDAwMSNXQUlUSU5HIiwicyI6MX0",
		"bad query":       "status=%zz",
	} {
		resp := e.get(t, RouteRooms, q, nil, &agent1)
		if resp.StatusCode != 400 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeBadRequest {
			t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Body)
		}
	}
	hong2 := testkit.Hong2
	if resp := e.get(t, RouteRooms, "", nil, &hong2); resp.StatusCode != 403 {
		t.Errorf("customer token: %d", resp.StatusCode)
	}
}
