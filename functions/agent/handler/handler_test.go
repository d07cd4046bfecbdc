package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/metrics/emftest"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
	"github.com/ragchat/ragchat/shared/store"
)

// The callers: two agents of room-1's company and, bookAgent, one of
// another company.
var agent1, agent2, bookAgent = testkit.Agent(1), testkit.Agent(2), testkit.BookAgent

type env struct {
	testkit.Env
	h  *Handler
	ep *relaytest.Endpoint
}

// newEnv returns the agent handler over fresh tables holding room-1 (BOT)
// of apt001/hong2 with two live sockets, conn-c (the customer) and
// conn-a (an agent), on a fake @connections endpoint.
func newEnv(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	e := testkit.NewEnv(t)
	now := time.Now()
	room := store.Room{RoomID: "room-1", CompanyID: "apt001", UserID: "hong2", RoomName: "hong2", Members: []string{},
		Status: store.RoomStatusBot, CreatedAt: now.UnixMilli(), LastActivityAt: now.UnixMilli()}
	testkit.Put(t, e.Store.CreateRoom, room)
	for _, c := range []store.Connection{
		{ConnectionID: "conn-c", RoomID: "room-1", UserID: "hong2", Role: store.UserRoleCustomer},
		{ConnectionID: "conn-a", RoomID: "room-1", UserID: "agent1", Role: store.UserRoleAgent},
	} {
		c.CompanyID, c.ConnectedAt, c.ExpiresAt = "apt001", now.UnixMilli(), now.Add(time.Hour).Unix()
		testkit.Put(t, e.Store.PutConnection, c)
	}
	ep := relaytest.NewEndpoint(t)
	ep.Open("conn-c", "conn-a")
	poster := relay.New(ep.Client(), e.Store, relay.Options{Logger: e.Log})
	return &env{Env: e, h: New(e.Store, testkit.Tokens(), poster, e.Log), ep: ep}
}

// request is an agent route's event, with id's token (none for nil).
func request(t *testing.T, action, roomID string, id *auth.Identity) events.APIGatewayV2HTTPRequest {
	return httpEvent(t, "POST /api/agent/rooms/{roomId}/"+action, map[string]string{"roomId": roomID}, "", id)
}

// httpEvent is a request of routeKey by id, none for nil.
func httpEvent(t *testing.T, routeKey string, params map[string]string, rawQuery string, id *auth.Identity) events.APIGatewayV2HTTPRequest {
	t.Helper()
	ev := testkit.HTTPEvent{Route: routeKey, Params: params, Query: rawQuery}
	if id != nil {
		ev.Authorization = testkit.Bearer(t, *id)
	}
	return ev.Request()
}

func (e *env) call(t *testing.T, action, roomID string, id *auth.Identity) (int, apigw.Room, apigw.ErrorBody) {
	t.Helper()
	resp := testkit.Call(t, e.h.Handle, request(t, action, roomID, id))
	var room apigw.Room
	var eb apigw.ErrorBody
	if resp.StatusCode == 200 {
		if got, want := testkit.KeysInOrder(t, resp.Body), []string{"roomId", "roomName", "members", "status", "assignedAgent", "createdAt", "lastActivityAt", "custId"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("keys %v, want %v", got, want)
		}
		if err := json.Unmarshal([]byte(resp.Body), &room); err != nil {
			t.Fatal(err)
		}
	} else {
		eb = testkit.ErrorBody(t, resp.Body)
	}
	return resp.StatusCode, room, eb
}

// statusFrames are the status frames a socket received, checked against
// the frame contract.
func (e *env) statusFrames(t *testing.T, conn string) []wsclient.Frame {
	t.Helper()
	var out []wsclient.Frame
	for _, raw := range e.ep.Frames(conn) {
		f, err := wsclient.Envelope(raw)
		if err != nil {
			t.Fatalf("%s: %v", conn, err)
		}
		if f.Type == wsclient.TypeStatus {
			out = append(out, f)
		}
	}
	return out
}

func (e *env) history(t *testing.T) []store.Message {
	t.Helper()
	page, err := e.Store.History(context.Background(), "room-1", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	return page.Messages
}

func TestAgent_ClaimReleaseCloseTellEverySocketAndHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.Store.RequestHandoff(ctx, "apt001", "room-1", time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}

	code, room, _ := e.call(t, "claim", "room-1", &agent1)
	if code != 200 || room.Status != store.RoomStatusAgent || room.AssignedAgent == nil || *room.AssignedAgent != "agent1" || !slices.Equal(room.Members, []string{"agent1"}) {
		t.Fatalf("claim: %d %+v", code, room)
	}
	// A second claim by the holder changes nothing and tells nobody.
	if code, room, _ := e.call(t, "claim", "room-1", &agent1); code != 200 || room.Status != store.RoomStatusAgent {
		t.Fatalf("re-claim: %d %+v", code, room)
	}
	if code, room, _ := e.call(t, "release", "room-1", &agent1); code != 200 || room.Status != store.RoomStatusBot || room.AssignedAgent != nil {
		t.Fatalf("release: %d %+v", code, room)
	}
	if code, _, _ := e.call(t, "claim", "room-1", &agent2); code != 200 {
		t.Fatalf("claim from BOT: %d", code)
	}
	if code, room, _ := e.call(t, "close", "room-1", &agent2); code != 200 || room.Status != store.RoomStatusClosed || room.AssignedAgent != nil {
		t.Fatalf("close: %d %+v", code, room)
	}

	type change struct{ status, agent, name, event string }
	want := []change{
		{"AGENT", "agent1", "상담원-01", store.EventAgentJoined},
		{"BOT", "", "", store.EventAgentLeft},
		{"AGENT", "agent2", "상담원-02", store.EventAgentJoined},
		{"CLOSED", "", "", store.EventRoomClosed},
	}
	msgs := e.history(t)
	if len(msgs) != len(want) {
		t.Fatalf("history has %d messages, want %d: %+v", len(msgs), len(want), msgs)
	}
	for _, conn := range []string{"conn-c", "conn-a"} {
		frames := e.statusFrames(t, conn)
		if len(frames) != len(want) {
			t.Fatalf("%s got %d status frames, want %d", conn, len(frames), len(want))
		}
		for i, f := range frames {
			got := change{f.Status, "", f.AgentName, f.Event}
			if f.AssignedAgent != nil {
				got.agent = *f.AssignedAgent
			}
			if got != want[i] || f.SessionID != "room-1" {
				t.Errorf("%s frame %d = %+v; want %+v", conn, i, got, want[i])
			}
			// The frame carries the system message stored for the change.
			m := msgs[i]
			if m.Role != store.RoleSystem || m.Event != want[i].event || f.MessageID != m.MessageID || f.Text != m.Text || f.CreatedAt != m.At {
				t.Errorf("%s frame %d %s does not carry history's %+v", conn, i, f.Raw, m)
			}
		}
	}
	if msgs[0].Text != "상담원-01 상담원이 연결되었습니다." {
		t.Errorf("agent_joined text %q", msgs[0].Text)
	}
}

// A password reset revokes the sockets of the user's earlier tokens for
// the room's status frames too: a customer's socket opened before the
// reset hears none of the agent's changes (a stolen token's socket stops
// reading the conversation), the customer's current socket does. The
// agent is known current (its token was just checked); the customer costs
// one GetItem on Users per change.
func TestAgent_AChangeIsNotToldToASocketOlderThanItsUsersPasswordChange(t *testing.T) {
	e := newEnv(t)
	ctx, now := context.Background(), time.Now()
	u, err := e.Store.GetUser(ctx, "apt001", "hong2")
	if err != nil {
		t.Fatal(err)
	}
	old := u.TokenVersion
	u.TokenVersion++ // the password reset
	testkit.Put(t, e.Store.PutUser, u)
	for id, ver := range map[string]int64{"conn-c": u.TokenVersion, "conn-stolen": old} {
		testkit.Put(t, e.Store.PutConnection, store.Connection{
			ConnectionID: id, RoomID: "room-1", UserID: "hong2", Role: store.UserRoleCustomer, CompanyID: "apt001",
			ConnectedAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(), TokenVersion: &ver,
		})
	}
	e.ep.Open("conn-stolen")
	if _, _, err := e.Store.RequestHandoff(ctx, "apt001", "room-1", now.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	c := testkit.NewCounter(t, e.Tables)
	if code, _, _ := e.call(t, "claim", "room-1", &agent1); code != 200 {
		t.Fatalf("claim: %d", code)
	}
	if got := c.Counts()[dynamo.Call{Operation: "GetItem", Table: e.Tables.Users}]; got != 2 {
		t.Fatalf("the claim read Users %d times (%v), want 2: the agent's token, the customer's version", got, c.Counts())
	}
	if code, _, _ := e.call(t, "release", "room-1", &agent1); code != 200 {
		t.Fatalf("release: %d", code)
	}
	for id, want := range map[string]int{"conn-c": 2, "conn-a": 2, "conn-stolen": 0} {
		if got := len(e.statusFrames(t, id)); got != want {
			t.Errorf("%s got %d status frames, want %d", id, got, want)
		}
	}
}

func TestAgent_RefusalsAre409AndChangeNothing(t *testing.T) {
	e := newEnv(t)
	if code, _, _ := e.call(t, "claim", "room-1", &agent1); code != 200 {
		t.Fatalf("claim: %d", code)
	}
	framesBefore, historyBefore := len(e.ep.Frames("conn-c")), len(e.history(t))
	for _, c := range []struct {
		action string
		id     auth.Identity
		code   string
	}{
		{"claim", agent2, apigw.CodeAlreadyAssigned},
		{"release", agent2, apigw.CodeNotAssigned},
		{"close", agent2, apigw.CodeNotAssigned},
	} {
		if code, _, eb := e.call(t, c.action, "room-1", &c.id); code != 409 || eb.Code != c.code {
			t.Errorf("%s by %s: %d %+v; want 409 %s", c.action, c.id.UserID, code, eb, c.code)
		}
	}
	if code, _, _ := e.call(t, "close", "room-1", &agent1); code != 200 {
		t.Fatalf("close: %d", code)
	}
	framesBefore++
	historyBefore++
	for _, action := range []string{"claim", "release", "close"} {
		if code, _, eb := e.call(t, action, "room-1", &agent1); code != 409 || eb.Code != apigw.CodeRoomClosed {
			t.Errorf("%s of a closed room: %d %+v; want 409 ROOM_CLOSED", action, code, eb)
		}
	}
	// release of a BOT room (nobody holds it) is NOT_ASSIGNED.
	room := store.Room{RoomID: "room-2", CompanyID: "apt001", UserID: "hong2", Members: []string{}, Status: store.RoomStatusBot}
	testkit.Put(t, e.Store.CreateRoom, room)
	if code, _, eb := e.call(t, "release", "room-2", &agent1); code != 409 || eb.Code != apigw.CodeNotAssigned {
		t.Errorf("release of a BOT room: %d %+v", code, eb)
	}
	if got := len(e.ep.Frames("conn-c")); got != framesBefore {
		t.Errorf("refusals sent frames: %d, want %d", got, framesBefore)
	}
	if got := len(e.history(t)); got != historyBefore {
		t.Errorf("refusals wrote history: %d messages, want %d", got, historyBefore)
	}
}

func TestAgent_TokensRoomsAndCompaniesAreChecked(t *testing.T) {
	e := newEnv(t)
	hong2 := testkit.Hong2
	for _, c := range []struct {
		name   string
		action string
		room   string
		id     *auth.Identity
		status int
		code   string
	}{
		{"no token", "claim", "room-1", nil, 401, apigw.CodeUnauthorized},
		{"customer token", "claim", "room-1", &hong2, 403, apigw.CodeForbidden},
		{"another company's agent", "claim", "room-1", &bookAgent, 404, apigw.CodeRoomNotFound},
		{"another company's agent closes", "close", "room-1", &bookAgent, 404, apigw.CodeRoomNotFound},
		{"unknown room", "claim", "room-ffffffff", &agent1, 404, apigw.CodeRoomNotFound},
		{"malformed room id", "claim", "room#1", &agent1, 400, apigw.CodeBadRequest},
		{"empty room id", "claim", "", &agent1, 400, apigw.CodeBadRequest},
	} {
		if status, _, eb := e.call(t, c.action, c.room, c.id); status != c.status || eb.Code != c.code {
			t.Errorf("%s: %d %+v; want %d %s", c.name, status, eb, c.status, c.code)
		}
	}
	resp := testkit.Call(t, e.h.Handle, func() events.APIGatewayV2HTTPRequest {
		r := request(t, "claim", "room-1", nil)
		r.Headers["authorization"] = "Bearer " + testkit.MintForeign(t, agent1, time.Now())
		return r
	}())
	if resp.StatusCode != 401 || resp.Headers["WWW-Authenticate"] != `Bearer error="invalid_token"` {
		t.Errorf("foreign-key token: %d %v", resp.StatusCode, resp.Headers)
	}
	if r, err := e.Store.GetRoom(context.Background(), "room-1"); err != nil || r.Status != store.RoomStatusBot || len(e.history(t)) != 0 || len(e.ep.Frames("conn-c")) != 0 {
		t.Fatalf("refused requests changed the room: %+v, %v", r, err)
	}
}

// TestAgent_ConcurrentClaimsThroughTheHandlerHaveOneWinner: agents claim
// the same waiting room at once through the handler, many times over:
// exactly one 200 and the rest 409 ALREADY_ASSIGNED each time, and one
// agent_joined in history.
func TestAgent_ConcurrentClaimsThroughTheHandlerHaveOneWinner(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const rounds, agents = 10, 5
	for round := range rounds {
		roomID := fmt.Sprintf("room-r%d", round)
		room := store.Room{RoomID: roomID, CompanyID: "apt001", UserID: "hong2", Members: []string{}, Status: store.RoomStatusBot}
		testkit.Put(t, e.Store.CreateRoom, room)
		if _, _, err := e.Store.RequestHandoff(ctx, "apt001", roomID, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
		codes := make([]int, agents)
		var wg sync.WaitGroup
		for a := range agents {
			wg.Go(func() {
				id := auth.Identity{UserID: fmt.Sprintf("agent%d", a), CompanyID: "apt001", Role: store.UserRoleAgent, Name: "x"}
				codes[a] = testkit.Call(t, e.h.Handle, request(t, "claim", roomID, &id)).StatusCode
			})
		}
		wg.Wait()
		slices.Sort(codes)
		if want := []int{200, 409, 409, 409, 409}; !slices.Equal(codes, want) {
			t.Fatalf("round %d: statuses %v, want %v", round, codes, want)
		}
		page, err := e.Store.History(ctx, roomID, 10, "")
		if err != nil || len(page.Messages) != 1 || page.Messages[0].Event != store.EventAgentJoined {
			t.Fatalf("round %d: history %+v, %v", round, page, err)
		}
	}
}

func TestAgent_SampleEvents(t *testing.T) {
	e := newEnv(t)
	room := store.Room{RoomID: "room-52d2b5b6", CompanyID: "apt001", UserID: "hong2", Members: []string{}, Status: store.RoomStatusBot}
	testkit.Put(t, e.Store.CreateRoom, room)
	for _, name := range []string{"agent-rooms.json", "agent-claim.json", "agent-messages.json", "agent-release.json", "agent-claim.json", "agent-close.json"} {
		if resp := testkit.SampleHTTP(t, e.h.Handle, name, agent1); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, resp.Body)
		}
	}
}

// TestAgent_HungPostsNeverHoldTheAnswerPastTheDeadline: with @connections
// hanging, a claim still answers (the change stands) before the Lambda
// deadline.
func TestAgent_HungPostsNeverHoldTheAnswerPastTheDeadline(t *testing.T) {
	e := newEnv(t)
	e.ep.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), announceMargin+500*time.Millisecond)
	defer cancel()
	resp, err := e.h.Handle(ctx, request(t, "claim", "room-1", &agent1))
	if ctx.Err() != nil {
		t.Fatalf("the claim answered after its deadline")
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("claim: %d %v %s", resp.StatusCode, err, resp.Body)
	}
	if r, err := e.Store.GetRoom(context.Background(), "room-1"); err != nil || r.Status != store.RoomStatusAgent {
		t.Fatalf("room after the claim: %+v, %v", r, err)
	}
}

func TestMetrics_EveryRoomChangeIsCountedByTransitionAndRefusalsAreNot(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	e.h.Metrics = metrics.New(&buf, "ragchat/test")
	if _, _, err := e.Store.RequestHandoff(context.Background(), "apt001", "room-1", time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	e.call(t, "claim", "room-1", &agent1)
	e.call(t, "claim", "room-1", &agent1) // the holder again: no change
	e.call(t, "claim", "room-1", &agent2) // 409 ALREADY_ASSIGNED
	e.call(t, "release", "room-1", &agent1)
	e.call(t, "claim", "room-1", &agent2)
	e.call(t, "close", "room-1", &agent2)

	byTransition := map[string]float64{}
	for _, l := range emftest.Find(emftest.Lines(t, buf.Bytes()), "HandoffTransitions") {
		if l.Dimensions["Function"] != "agent" || l.Units["HandoffTransitions"] != "Count" {
			t.Errorf("line %+v", l)
		}
		byTransition[l.Dimensions["Transition"]] += l.Metrics["HandoffTransitions"]
	}
	want := map[string]float64{"agent_joined": 2, "agent_left": 1, "room_closed": 1}
	if len(byTransition) != len(want) || byTransition["agent_joined"] != 2 || byTransition["agent_left"] != 1 || byTransition["room_closed"] != 1 {
		t.Errorf("transitions %v, want %v", byTransition, want)
	}
}
