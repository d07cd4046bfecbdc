package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	login "github.com/ragchat/ragchat/functions/login/handler"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/store"
)

// agent is a logged-in support agent.
type agent struct {
	user
	Token string
}

// newAgent writes a fresh agent of company and logs it in at the agents'
// login.
func (hr *harness) newAgent(t testing.TB, companyID string) agent {
	t.Helper()
	u := user{CompanyID: companyID, UserID: "e2e-agent-" + randHex(4), UserName: "상담원-" + randHex(2)}
	err := store.New(hr.st.DB, hr.st.Tables).PutUser(context.Background(), store.User{
		CompanyID: u.CompanyID, UserID: u.UserID, UserName: u.UserName, Role: store.UserRoleAgent,
		PasswordHash: hr.hash, CreatedAt: time.Now().UnixMilli(),
	})
	if err != nil {
		t.Fatalf("put agent: %v", err)
	}
	body, _ := json.Marshal(map[string]string{"id": u.UserID, "password": hr.password})
	r := hr.do(t, http.MethodPost, "/api/agent/"+companyID+"/login", map[string]string{"Content-Type": "application/json"}, string(body))
	var lr login.Response
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &lr) != nil || lr.Role != store.UserRoleAgent || lr.Token == "" {
		t.Fatalf("agent login: %d %s", r.Status, redact(string(r.Body)))
	}
	hr.secrets.addToken("agent token", lr.Token)
	return agent{user: u, Token: lr.Token}
}

// agentCall posts an agent route (claim, release, close) for room.
func (hr *harness) agentCall(t testing.TB, token, room, action string) httpResult {
	t.Helper()
	return hr.do(t, http.MethodPost, "/api/agent/rooms/"+url.PathEscape(room)+"/"+action, map[string]string{"Authorization": "Bearer " + token}, "")
}

// transition runs an agent route that must succeed and returns the room.
func (hr *harness) transition(t testing.TB, token, room, action string) apigw.Room {
	t.Helper()
	r := hr.agentCall(t, token, room, action)
	var rm apigw.Room
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &rm) != nil {
		t.Fatalf("%s %s: %d %s", action, room, r.Status, r.Body)
	}
	return rm
}

// queue is the agent's list of rooms in status (first page).
func (hr *harness) queue(t testing.TB, token, status string) []apigw.Room {
	t.Helper()
	r := hr.do(t, http.MethodGet, "/api/agent/rooms?status="+status+"&limit=100", map[string]string{"Authorization": "Bearer " + token}, "")
	var page apigw.RoomsPage
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &page) != nil {
		t.Fatalf("queue %s: %d %s", status, r.Status, r.Body)
	}
	return page.Rooms
}

// nextOfType reads c's frames up to the next one of type typ, failing on
// any other typed frame.
func (c *client) nextOfType(t testing.TB, typ string) frame {
	t.Helper()
	f := c.nextTyped(t)
	if f.Type != typ {
		t.Fatalf("connection %s: %s, want a %s frame", c.ID, redactFrame(f), typ)
	}
	return f
}

// expectStatus reads a status frame on each client and checks it.
func expectStatus(t testing.TB, status, agentID, agentName string, clients ...*client) {
	t.Helper()
	for _, c := range clients {
		f := c.nextOfType(t, "status")
		got := ""
		if f.AssignedAgent != nil {
			got = *f.AssignedAgent
		}
		if f.Status != status || got != agentID || f.AgentName != agentName || f.SessionID != c.Room {
			t.Fatalf("connection %s: status frame %s, want %s %q %q", c.ID, f.Raw, status, agentID, agentName)
		}
	}
}

// expectMessage reads a message frame on each client and checks it.
func expectMessage(t testing.TB, role, text, userName string, clients ...*client) {
	t.Helper()
	for _, c := range clients {
		f := c.nextOfType(t, "message")
		if f.Role != role || f.Text != text || f.UserName != userName || f.SessionID != c.Room || f.MessageID == "" {
			t.Fatalf("connection %s: message frame %s, want %s %q from %q", c.ID, f.Raw, role, text, userName)
		}
	}
}

// handoffItem is a Messages item with the fields handoff adds.
type handoffItem struct {
	Role     string `dynamodbav:"role"`
	Text     string `dynamodbav:"text"`
	Event    string `dynamodbav:"event"`
	UserName string `dynamodbav:"userName"`
}

// handoffHistory is the room's messages in key order (records of the
// room's partition that are not messages, which have no role, left out).
func (hr *harness) handoffHistory(t testing.TB, room string) []handoffItem {
	t.Helper()
	var all, out []handoffItem
	hr.roomItems(t, room, &all)
	for _, m := range all {
		if m.Role != "" {
			out = append(out, m)
		}
	}
	return out
}

// TestHandoff_WholeStory: a customer asks (the bot answers), asks for a
// person (WAITING on both of the customer's sockets), an agent logs in,
// finds the room in the queue, claims it (AGENT with the agent's name),
// they talk both ways in Korean, the agent releases it (BOT) and the bot
// answers the next question; history holds all of it in order.
func TestHandoff_WholeStory(t *testing.T) {
	c := h.newCustomer(t, "apt001")
	a := h.dial(t, c.Token, c.Room)
	b := h.dial(t, c.Token, c.Room)
	h.checkAnswered(t, c.Room, qFee, a.ask(t, qFee))
	b.readAnswer(t)

	a.send(t, `{"action":"handoff","reason":"관리비를 두 번 냈어요"}`)
	expectStatus(t, "WAITING", "", "", a, b)

	ag := h.newAgent(t, "apt001")
	waiting := h.queue(t, ag.Token, "WAITING")
	if !slices.ContainsFunc(waiting, func(r apigw.Room) bool { return r.RoomID == c.Room && r.Status == "WAITING" }) {
		t.Fatalf("the waiting queue %+v lacks %s", waiting, c.Room)
	}
	g := h.dial(t, ag.Token, c.Room)
	if rm := h.transition(t, ag.Token, c.Room, "claim"); rm.Status != "AGENT" || rm.AssignedAgent == nil || *rm.AssignedAgent != ag.UserID || !slices.Equal(rm.Members, []string{ag.UserID}) {
		t.Fatalf("claim: %+v", rm)
	}
	expectStatus(t, "AGENT", ag.UserID, ag.UserName, a, b, g)
	if slices.ContainsFunc(h.queue(t, ag.Token, "WAITING"), func(r apigw.Room) bool { return r.RoomID == c.Room }) {
		t.Errorf("the claimed room is still in the waiting queue")
	}

	hello := "안녕하세요, 상담원입니다. 이중 납부를 확인해 드릴게요."
	g.sendQuestion(t, hello)
	expectMessage(t, "agent", hello, ag.UserName, a, b)
	thanks := "감사합니다! 영수증도 보내 드릴까요?"
	a.sendQuestion(t, thanks)
	expectMessage(t, "user", thanks, c.UserName, b, g)

	if rm := h.transition(t, ag.Token, c.Room, "release"); rm.Status != "BOT" || rm.AssignedAgent != nil {
		t.Fatalf("release: %+v", rm)
	}
	expectStatus(t, "BOT", "", "", a, b, g)
	h.checkAnswered(t, c.Room, qParking, a.ask(t, qParking))
	if got := g.readAnswer(t); got.Terminal.Type != "complete" {
		t.Errorf("the agent's socket saw the bot's answer end %s", got.Terminal.Type)
	}

	want := []handoffItem{
		{Role: "user", Text: qFee},
		{Role: "bot"},
		{Role: "system", Event: "handoff_requested"},
		{Role: "system", Event: "agent_joined"},
		{Role: "agent", Text: hello, UserName: ag.UserName},
		{Role: "user", Text: thanks, UserName: c.UserName},
		{Role: "system", Event: "agent_left"},
		{Role: "user", Text: qParking},
		{Role: "bot"},
	}
	got := h.handoffHistory(t, c.Room)
	if len(got) != len(want) {
		t.Fatalf("history has %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Role != w.Role || g.Event != w.Event || (w.Text != "" && g.Text != w.Text) || (w.UserName != "" && g.UserName != w.UserName) {
			t.Errorf("history[%d] = %+v, want %+v", i, g, w)
		}
	}
	onlyTyped(t, a, b, g)
}

// TestHandoff_AnotherCompanysAgentIsRefusedEverywhere: an agent of book001
// cannot list, claim, read or connect to apt001's rooms.
func TestHandoff_AnotherCompanysAgentIsRefusedEverywhere(t *testing.T) {
	c := h.newCustomer(t, "apt001")
	a := h.dial(t, c.Token, c.Room)
	a.send(t, `{"action":"handoff"}`)
	expectStatus(t, "WAITING", "", "", a)

	other := h.newAgent(t, "book001")
	if slices.ContainsFunc(h.queue(t, other.Token, "WAITING"), func(r apigw.Room) bool { return r.RoomID == c.Room }) {
		t.Errorf("book001's queue lists apt001's room %s", c.Room)
	}
	for _, action := range []string{"claim", "release", "close"} {
		if r := h.agentCall(t, other.Token, c.Room, action); r.Status != http.StatusNotFound || r.errorBody(t).Code != "ROOM_NOT_FOUND" {
			t.Errorf("%s by book001's agent: %d %s", action, r.Status, r.Body)
		}
	}
	r := h.do(t, http.MethodGet, "/api/agent/rooms/"+c.Room+"/messages", map[string]string{"Authorization": "Bearer " + other.Token}, "")
	if r.Status != http.StatusNotFound || r.errorBody(t).Code != "ROOM_NOT_FOUND" {
		t.Errorf("history read by book001's agent: %d %s", r.Status, r.Body)
	}
	if status, e := h.refusal(t, "token="+url.QueryEscape(other.Token)+"&roomId="+c.Room); status != http.StatusForbidden || e.Code != "FORBIDDEN" {
		t.Errorf("book001's agent connecting: %d %+v", status, e)
	}
	// Customers' tokens are refused on agent routes, agents' on customer routes.
	if r := h.agentCall(t, c.Token, c.Room, "claim"); r.Status != http.StatusForbidden {
		t.Errorf("a customer's claim: %d %s", r.Status, r.Body)
	}
	if r := h.do(t, http.MethodPost, "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + other.Token}, ""); r.Status != http.StatusForbidden {
		t.Errorf("an agent opening a chatbot room: %d %s", r.Status, r.Body)
	}
	var rm struct {
		Status string `dynamodbav:"status"`
	}
	h.getItem(t, h.st.Tables.Rooms, "roomId", c.Room, &rm)
	if rm.Status != "WAITING" {
		t.Errorf("the room is %s after the refusals, want WAITING", rm.Status)
	}
}

// TestHandoff_BadInputOnTheAgentRoutes: clear 4xx, nothing changed.
func TestHandoff_BadInputOnTheAgentRoutes(t *testing.T) {
	c := h.newCustomer(t, "apt001")
	ag := h.newAgent(t, "apt001")
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		status             int
	}{
		{"no token", http.MethodPost, "/api/agent/rooms/" + c.Room + "/claim", nil, 401},
		{"garbage token", http.MethodPost, "/api/agent/rooms/" + c.Room + "/claim", map[string]string{"Authorization": "Bearer x.y.z"}, 401},
		{"malformed room id", http.MethodPost, "/api/agent/rooms/room%23x/claim", map[string]string{"Authorization": "Bearer " + ag.Token}, 400},
		{"unknown room", http.MethodPost, "/api/agent/rooms/room-ffffffff/claim", map[string]string{"Authorization": "Bearer " + ag.Token}, 404},
		{"release of a BOT room", http.MethodPost, "/api/agent/rooms/" + c.Room + "/release", map[string]string{"Authorization": "Bearer " + ag.Token}, 409},
		{"unknown status", http.MethodGet, "/api/agent/rooms?status=SLEEPING", map[string]string{"Authorization": "Bearer " + ag.Token}, 400},
		{"bad cursor", http.MethodGet, "/api/agent/rooms?status=WAITING&cursor=!!", map[string]string{"Authorization": "Bearer " + ag.Token}, 400},
	} {
		if r := h.do(t, tc.method, tc.path, tc.header, ""); r.Status != tc.status || r.errorBody(t).Code == "" {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
		}
	}
	var rm struct {
		Status string `dynamodbav:"status"`
	}
	h.getItem(t, h.st.Tables.Rooms, "roomId", c.Room, &rm)
	if rm.Status != "BOT" || len(h.handoffHistory(t, c.Room)) != 0 {
		t.Errorf("bad input changed the room: %s", rm.Status)
	}
}
