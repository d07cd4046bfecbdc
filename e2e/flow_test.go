package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	login "github.com/ragchat/ragchat/functions/login/handler"
)

// Questions the apt001 knowledge base answers.
const (
	qFee     = "관리비는 언제까지 내야 하나요?"
	qParking = "방문 차량은 어떻게 등록하나요?"
	qRecycle = "분리수거는 언제 어디에 하나요?"
)

// checkAnswered asserts that a answered question in room completely, with
// exactly the text the dev RAG server gave, and that the history's last two
// items are the question and that answer.
func (hr *harness) checkAnswered(t testing.TB, room, question string, a answer) {
	t.Helper()
	if a.Terminal.Type != "complete" {
		t.Fatalf("%q ended with %s, want complete", question, redactFrame(a.Terminal))
	}
	if want := hr.rag.lastAnswer(t, room).Answer; a.Text != want {
		t.Fatalf("deltas of %q:\n%q\nthe dev RAG server answered:\n%q", question, redact(a.Text), redact(want))
	}
	hr.checkHistory(t, room, question, a, "complete", a.Text)
}

// checkHistory asserts that the room's last two Messages items are the
// question and the answer a with outcome and text.
func (hr *harness) checkHistory(t testing.TB, room, question string, a answer, outcome, text string) {
	t.Helper()
	var msgs []storedMessage
	// The answer's item exists from its first frame on (outcome streaming);
	// its last write may land just after the last frame.
	eventually(t, "the answer "+a.MessageID+" ended in the history", func() bool {
		msgs = hr.history(t, room)
		return len(msgs) >= 2 && msgs[len(msgs)-1].MessageID == a.MessageID && msgs[len(msgs)-1].Outcome != "streaming"
	})
	q, b := msgs[len(msgs)-2], msgs[len(msgs)-1]
	if q.Role != "user" || q.Text != strings.TrimSpace(question) || q.Outcome != "" {
		t.Errorf("question item = %+v, want the user's %q", q, question)
	}
	if b.Role != "bot" || b.Outcome != outcome || b.Text != text {
		t.Errorf("answer item: role %q outcome %q text %q; want bot, %q, %q",
			b.Role, b.Outcome, redact(b.Text), outcome, redact(text))
	}
	if !(q.SK < b.SK) {
		t.Errorf("answer key %q does not sort after question key %q", b.SK, q.SK)
	}
}

func TestFlow_LoginRoomSocketQuestionStreamsExactlyTheDevRAGAnswerToEverySocketOfTheRoom(t *testing.T) {
	u := h.newUser(t, "apt001")
	r := h.tryLogin(t, u.CompanyID, u.UserID, h.password)
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	var keys map[string]json.RawMessage
	must(t, json.Unmarshal(r.Body, &keys))
	for _, k := range []string{"userId", "userName", "role", "email", "token", "roomId", "companyId"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("login response lacks %q: %s", k, redact(string(r.Body)))
		}
	}
	var lr login.Response
	must(t, json.Unmarshal(r.Body, &lr))
	if lr.UserID != u.UserID || lr.UserName != u.UserName || lr.CompanyID != "apt001" || lr.Role != "CUSTOMER" || lr.RoomID != nil {
		t.Fatalf("login = %+v", lr)
	}
	if header := jwtHeader(t, lr.Token); header["alg"] != "HS256" {
		t.Fatalf("token header %v, want a HS256 JWT", header)
	}

	room := h.newRoom(t, lr.Token)
	if !strings.HasPrefix(room.RoomID, "room-") || len(room.RoomID) != len("room-")+8 || room.Status != "BOT" ||
		room.RoomName != u.UserID || room.Members == nil || len(room.Members) != 0 || room.AssignedAgent != nil ||
		room.CustID != nil || room.CreatedAt == 0 || room.LastActivityAt != room.CreatedAt {
		t.Fatalf("room = %+v", room)
	}

	a := h.dial(t, lr.Token, room.RoomID)
	b := h.dial(t, lr.Token, room.RoomID)
	got := a.ask(t, qFee)
	h.checkAnswered(t, room.RoomID, qFee, got)
	seen := b.readAnswer(t)
	if seen.MessageID != got.MessageID || seen.Text != got.Text || seen.Terminal.Type != "complete" {
		t.Fatalf("second socket saw %s %q (%s), the asker %s", seen.MessageID, redact(seen.Text), seen.Terminal.Type, got.MessageID)
	}
	if turn := h.rag.lastAnswer(t, room.RoomID); turn.Question != qFee || turn.EntryID == "" {
		t.Fatalf("the dev RAG server answered %+v, want a knowledge-base entry for %q", turn, qFee)
	}

	// The room's lastActivityAt moved, and the next login names this room.
	var rm struct {
		LastActivityAt int64 `dynamodbav:"lastActivityAt"`
	}
	// The room is touched after the answer is stored, while its ending
	// goes out: the ending can arrive first.
	eventually(t, "the room's lastActivityAt moves past its creation", func() bool {
		h.getItem(t, h.st.Tables.Rooms, "roomId", room.RoomID, &rm)
		return rm.LastActivityAt > room.CreatedAt
	})
	r = h.tryLogin(t, u.CompanyID, u.UserID, h.password)
	must(t, json.Unmarshal(r.Body, &lr))
	if lr.RoomID == nil || *lr.RoomID != room.RoomID {
		t.Errorf("second login roomId = %v, want %s", lr.RoomID, room.RoomID)
	}

	// Closing a socket deletes its connection item, and only its own.
	a.close()
	eventually(t, "connection "+a.ID+" deleted", func() bool { return !h.connectionItem(t, a.ID) })
	if !h.connectionItem(t, b.ID) {
		t.Fatalf("closing %s deleted %s too", a.ID, b.ID)
	}
	b.close()
	h.waitNoConnections(t, room.RoomID)
	onlyTyped(t, a, b)
}

func TestFlow_TraceLoginWithQueryCredentialsKeepsTheTraceShape(t *testing.T) {
	// The trace's own request: credentials in the query string.
	r := h.do(t, http.MethodPost, "/api/customer/apt001/login?id=hong2&password=1234", nil, "")
	if r.Status != http.StatusOK {
		t.Fatalf("trace login: %d %s", r.Status, r.Body)
	}
	var lr login.Response
	must(t, json.Unmarshal(r.Body, &lr))
	h.secrets.addToken("login token", lr.Token)
	if lr.UserID != "hong2" || lr.UserName != "고객-275b" || lr.Email != "hong2@example.com" || lr.CompanyID != "apt001" {
		t.Fatalf("trace login = %+v", lr)
	}
	if header := jwtHeader(t, lr.Token); header["alg"] != "HS256" {
		t.Fatalf("token header %v, want a HS256 JWT", header)
	}

	// A test user's distinctive password in the query string, so that the
	// log scan would find it if any layer logged the query.
	u := h.newUser(t, "apt001")
	q := url.Values{"id": {u.UserID}, "password": {h.password}}.Encode()
	r = h.do(t, http.MethodPost, "/api/customer/apt001/login?"+q, nil, "")
	if r.Status != http.StatusOK {
		t.Fatalf("query login: %d %s", r.Status, r.Body)
	}
	must(t, json.Unmarshal(r.Body, &lr))
	h.secrets.addToken("login token", lr.Token)
}

func TestFlow_HandshakeRefusesForgedAndForeignTokensAndStoresNothing(t *testing.T) {
	owner := h.newCustomer(t, "apt001")
	other := h.newCustomer(t, "apt001")
	tests := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"the trace's base64 token", traceToken, http.StatusUnauthorized, "UNAUTHORIZED"},
		{"a JWT signed with another key", h.forge(t, claimsFor(owner.user), "HS256", []byte("another-secret-of-at-least-32-bytes!!")), http.StatusUnauthorized, "UNAUTHORIZED"},
		{"another user's valid token", other.Token, http.StatusForbidden, "FORBIDDEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e := h.refusal(t, url.Values{"token": {tt.token}, "roomId": {owner.Room}}.Encode())
			if status != tt.status || e.Code != tt.code || e.Message == "" {
				t.Fatalf("refused with %d %+v, want %d %s", status, e, tt.status, tt.code)
			}
			if conns := h.roomConnections(t, owner.Room); len(conns) != 0 {
				t.Fatalf("refused handshake left %d connection items", len(conns))
			}
		})
	}
}

func TestFlow_ConnectionsAPIPostGetDeleteThroughTheSDKThenGone(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	api := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(strings.TrimSuffix(h.st.URLs.Connections, "/@connections")),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDE2ETEST", h.awsSecret, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()

	payload := `{"type":"notice","text":"안녕하세요"}`
	_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &c.ID, Data: []byte(payload)})
	must(t, err)
	if f := c.next(t); string(f.Raw) != payload {
		t.Fatalf("client got %s, want %s", f.Raw, payload)
	}
	info, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &c.ID})
	must(t, err)
	if info.ConnectedAt == nil || time.Since(*info.ConnectedAt) > time.Hour || info.Identity == nil ||
		aws.ToString(info.Identity.SourceIp) != "127.0.0.1" || info.LastActiveAt == nil {
		t.Fatalf("GetConnection = %+v", info)
	}
	_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &c.ID})
	must(t, err)
	if status := c.closeStatus(t); status != websocket.StatusNormalClosure {
		t.Fatalf("DeleteConnection ended the socket with close status %d, want the server's 1000", status)
	}
	eventually(t, "the deleted connection's item removed by $disconnect", func() bool { return !h.connectionItem(t, c.ID) })

	_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &c.ID, Data: []byte("x")})
	var gone *apitypes.GoneException
	if !errors.As(err, &gone) {
		t.Fatalf("post after close: %v, want a typed GoneException", err)
	}
	_, err = api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &c.ID})
	if !errors.As(err, &gone) {
		t.Fatalf("get after close: %v, want GoneException", err)
	}
	_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &c.ID})
	if !errors.As(err, &gone) {
		t.Fatalf("delete after close: %v, want GoneException", err)
	}
}

// getItem reads one item by its single-attribute key into out; it fails
// the test when there is none.
func (hr *harness) getItem(t testing.TB, table, keyName, key string, out any) {
	t.Helper()
	it := hr.item(t, table, keyName, key)
	if it == nil {
		t.Fatalf("no item %s in %s", key, table)
	}
	must(t, unmarshalMap(it, out))
}

// jwtHeader decodes a JWT's header.
func jwtHeader(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", redact(token))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	must(t, err)
	var header map[string]any
	must(t, json.Unmarshal(raw, &header))
	return header
}

// onlyTyped fails when any client saw a frame of API Gateway's own.
func onlyTyped(t testing.TB, clients ...*client) {
	t.Helper()
	for _, c := range clients {
		if u := c.untypedFrames(); len(u) > 0 {
			t.Fatalf("connection %s got API Gateway frames, first %s", c.ID, u[0].Raw)
		}
	}
}
