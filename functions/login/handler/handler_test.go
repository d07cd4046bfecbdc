package handler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
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

const (
	password   = "1234"
	otherPass  = "s3cret-other-pw"
	secretWord = "hunter2-wrong" // a wrong password that must never be logged
)

var hash1234 = sync.OnceValue(func() string {
	h, err := testkit.Passwords().Hash(password)
	if err != nil {
		panic(err)
	}
	return h
})

type env struct {
	testkit.Env
	h *Handler
}

// newEnv returns a login handler over fresh tables holding the trace's
// user apt001/hong2 (password 1234) and apt001/kim (otherPass).
func newEnv(t *testing.T) *env {
	t.Helper()
	e := testkit.NewEnv(t)
	testkit.Put(t, e.Store.PutUser, []store.User{
		{CompanyID: "apt001", UserID: "hong2", UserName: "고객-275b", Email: "hong2@example.com", Role: store.UserRoleCustomer, PasswordHash: hash1234()},
		{CompanyID: "apt001", UserID: "kim", UserName: "김", Role: store.UserRoleCustomer, PasswordHash: hash1234()},
	}...)
	return &env{Env: e, h: New(e.Store, testkit.Tokens(), testkit.Passwords(), DefaultLockout, e.Log)}
}

// queryReq is a customer login of company with the query rawQuery.
func queryReq(company, rawQuery string) events.APIGatewayV2HTTPRequest {
	return testkit.HTTPEvent{Route: "POST /api/customer/{companyId}/login", Params: map[string]string{"companyId": company}, Query: rawQuery}.Request()
}

func bodyReq(company, body string) events.APIGatewayV2HTTPRequest {
	r := queryReq(company, "")
	r.Headers = map[string]string{"content-type": "application/json"}
	r.Body = body
	return r
}

func (e *env) call(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return testkit.Call(t, e.h.Handle, req)
}

func TestLogin_TraceQueryStringGivesTheTraceShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp := e.call(t, queryReq("apt001", "id=hong2&password=1234"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	want := []string{"userId", "userName", "role", "email", "token", "roomId", "companyId"}
	if got := testkit.KeysInOrder(t, resp.Body); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	token, _ := body["token"].(string)
	delete(body, "token")
	wantBody := map[string]any{"userId": "hong2", "userName": "고객-275b", "role": "CUSTOMER",
		"email": "hong2@example.com", "roomId": nil, "companyId": "apt001"}
	if !reflect.DeepEqual(body, wantBody) {
		t.Fatalf("body = %v, want %v", body, wantBody)
	}
	id, err := testkit.Tokens().Verify(token, time.Now())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if id != testkit.Hong2 {
		t.Fatalf("token identity = %+v", id)
	}
	if !strings.HasPrefix(resp.Headers["Content-Type"], "application/json") || resp.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("headers = %v", resp.Headers)
	}
}

func TestLogin_AcceptsEveryCredentialEncoding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b64 := bodyReq("apt001", base64.StdEncoding.EncodeToString([]byte(`{"id":"hong2","password":"1234"}`)))
	b64.IsBase64Encoded = true
	single := queryReq("apt001", "")
	single.QueryStringParameters = map[string]string{"id": "hong2", "password": "1234"}
	withBody := func(body string) events.APIGatewayV2HTTPRequest {
		r := queryReq("apt001", "id=hong2&password=1234")
		r.Body = body
		return r
	}
	cases := map[string]events.APIGatewayV2HTTPRequest{
		"JSON body":                bodyReq("apt001", `{"id":"hong2","password":"1234"}`),
		"query with empty object":  withBody(`{}`),
		"query with null body":     withBody(`null`),
		"query with blank body":    withBody(" \r\n"),
		"base64 JSON body":         b64,
		"query parameter map only": single,
		"percent-encoded query":    queryReq("apt001", "id=hong2&password=%31%32%33%34"),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			if resp := e.call(t, req); resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
		})
	}
}

func TestLogin_RoomIDIsTheLatestRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, id := range []string{"room-00000001", "room-00000003", "room-00000002"} {
		created := []int64{1000, 3000, 2000}[i]
		testkit.Put(t, e.Store.CreateRoom, store.Room{RoomID: id, CompanyID: "apt001", UserID: "hong2",
			Members: []string{}, CreatedAt: created})
	}
	resp := e.call(t, bodyReq("apt001", `{"id":"hong2","password":"1234"}`))
	var body struct{ RoomID *string }
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.RoomID == nil || *body.RoomID != "room-00000003" {
		t.Fatalf("status %d body %s", resp.StatusCode, resp.Body)
	}
}

func TestLogin_UnknownUserAndWrongPasswordAreIndistinguishable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	embedded := testkit.IsEmbedded()
	var counter *testkit.Counter
	if embedded {
		counter = testkit.NewCounter(t, e.Tables)
	}
	reqs := []events.APIGatewayV2HTTPRequest{
		queryReq("apt001", "id=hong2&password="+secretWord),
		queryReq("apt001", "id=nobody&password="+secretWord),
		queryReq("apt999", "id=hong2&password="+secretWord),
		bodyReq("apt001", `{"id":"kim","password":"`+secretWord+`"}`),
	}
	var first events.APIGatewayV2HTTPResponse
	var firstCalls int
	for i, req := range reqs {
		if embedded {
			counter.Reset()
		}
		resp := e.call(t, req)
		if resp.StatusCode != 401 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeInvalidCredentials {
			t.Fatalf("request %d: status %d body %s", i, resp.StatusCode, resp.Body)
		}
		if i == 0 {
			first = resp
		} else if !reflect.DeepEqual(resp, first) {
			t.Fatalf("request %d answered %+v, request 0 %+v", i, resp, first)
		}
		if embedded {
			// Same DynamoDB work for existing and unknown users.
			calls := counter.Counts().Total()
			if i == 0 {
				firstCalls = calls
			} else if calls != firstCalls {
				t.Fatalf("request %d made %d DynamoDB calls, request 0 made %d", i, calls, firstCalls)
			}
		}
	}
}

func TestLogin_FiveFailuresThrottleWithoutRevealingTheUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, user := range []string{"hong2", "ghost"} {
		t.Run(user, func(t *testing.T) {
			for i := range DefaultLockout.PerUser.Max {
				if resp := e.call(t, queryReq("apt001", "id="+user+"&password=wrong")); resp.StatusCode != 401 {
					t.Fatalf("failure %d: status %d", i+1, resp.StatusCode)
				}
			}
			resp := e.call(t, queryReq("apt001", "id="+user+"&password=1234"))
			if resp.StatusCode != 429 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeLoginThrottled || resp.Headers["Retry-After"] == "" {
				t.Fatalf("after %d failures: status %d headers %v body %s", DefaultLockout.PerUser.Max, resp.StatusCode, resp.Headers, resp.Body)
			}
		})
	}
	// The same answer for the existing and the unknown user.
	a := e.call(t, queryReq("apt001", "id=hong2&password=1234"))
	b := e.call(t, queryReq("apt001", "id=ghost&password=1234"))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("locked answers differ: %+v vs %+v", a, b)
	}
	// Other users of the company are not affected.
	if resp := e.call(t, queryReq("apt001", "id=kim&password=1234")); resp.StatusCode != 200 {
		t.Fatalf("kim: status %d", resp.StatusCode)
	}
}

func TestLogin_SuccessResetsTheFailureCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fail := func() {
		if resp := e.call(t, queryReq("apt001", "id=hong2&password=wrong")); resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	for range DefaultLockout.PerUser.Max - 1 {
		fail()
	}
	if resp := e.call(t, queryReq("apt001", "id=hong2&password=1234")); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for range DefaultLockout.PerUser.Max - 1 {
		fail()
	}
	if resp := e.call(t, queryReq("apt001", "id=hong2&password=1234")); resp.StatusCode != 200 {
		t.Fatalf("after reset and %d failures: status %d", DefaultLockout.PerUser.Max-1, resp.StatusCode)
	}
}

func TestLogin_BadInputIs4xxAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b64 := func(s string) events.APIGatewayV2HTTPRequest {
		r := bodyReq("apt001", base64.StdEncoding.EncodeToString([]byte(s)))
		r.IsBase64Encoded = true
		return r
	}
	badB64 := bodyReq("apt001", "%%%not base64")
	badB64.IsBase64Encoded = true
	dupMap := queryReq("apt001", "")
	dupMap.QueryStringParameters = map[string]string{"id": "hong2,kim", "password": "1234"}
	long := strings.Repeat("a", auth.MaxPasswordLen+1)
	cases := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		status int
	}{
		{"malformed JSON", bodyReq("apt001", `{"id":"hong2",`), 400},
		{"id of wrong type", bodyReq("apt001", `{"id":7,"password":"1234"}`), 400},
		{"password of wrong type", bodyReq("apt001", `{"id":"hong2","password":1234}`), 400},
		{"password null", bodyReq("apt001", `{"id":"hong2","password":null}`), 400},
		{"array body", bodyReq("apt001", `["hong2","1234"]`), 400},
		{"JSON null body", bodyReq("apt001", `null`), 400},
		{"missing password", bodyReq("apt001", `{"id":"hong2"}`), 400},
		{"empty object", bodyReq("apt001", `{}`), 400},
		{"trailing data", bodyReq("apt001", `{"id":"hong2","password":"1234"}{}`), 400},
		{"invalid UTF-8 body", bodyReq("apt001", "{\"id\":\"hong2\",\"password\":\"\xff\xfe\"}"), 400},
		{"form-encoded body", bodyReq("apt001", "id=hong2&password=1234"), 400},
		{"oversized body", bodyReq("apt001", `{"id":"hong2","password":"`+strings.Repeat("x", maxBodyBytes)+`"}`), 413},
		{"oversized base64 body", b64(`{"id":"` + strings.Repeat("x", maxBodyBytes) + `"}`), 413},
		{"invalid base64 body", badB64, 400},
		{"no credentials", queryReq("apt001", ""), 400},
		{"whitespace-only body", bodyReq("apt001", " \n\t "), 400},
		{"empty query values", queryReq("apt001", "id=&password="), 400},
		{"duplicate id parameter", queryReq("apt001", "id=hong2&id=kim&password=1234"), 400},
		{"duplicate password parameter", queryReq("apt001", "id=hong2&password=1&password=1234"), 400},
		{"duplicate parameter joined by API Gateway", dupMap, 400},
		{"malformed query escape", queryReq("apt001", "id=hong2&password=%zz"), 400},
		{"invalid UTF-8 query", queryReq("apt001", "id=hong2&password=%ff"), 400},
		{"password in body, id in query", func() events.APIGatewayV2HTTPRequest {
			r := bodyReq("apt001", `{"password":"1234"}`)
			r.RawQueryString = "id=hong2"
			return r
		}(), 400},
		{"malformed body with query credentials", func() events.APIGatewayV2HTTPRequest {
			r := bodyReq("apt001", `{"id":`)
			r.RawQueryString = "id=hong2&password=1234"
			return r
		}(), 400},
		{"credentials in body and query", func() events.APIGatewayV2HTTPRequest {
			r := bodyReq("apt001", `{"id":"hong2","password":"1234"}`)
			r.RawQueryString = "id=kim&password=1234"
			return r
		}(), 400},
		{"password over bcrypt's limit", bodyReq("apt001", `{"id":"hong2","password":"`+long+`"}`), 400},
		{"id with injection", bodyReq("apt001", `{"id":"hong2' OR '1'='1","password":"1234"}`), 400},
		{"id with key separator", bodyReq("apt001", `{"id":"hong2#x","password":"1234"}`), 400},
		{"id with path traversal", bodyReq("apt001", `{"id":"../hong2","password":"1234"}`), 400},
		{"id with control character", bodyReq("apt001", `{"id":"hong\u00002","password":"1234"}`), 400},
		{"id too long", bodyReq("apt001", `{"id":"`+strings.Repeat("h", 129)+`","password":"1234"}`), 400},
		{"company with slash", bodyReq("apt/001", `{"id":"hong2","password":"1234"}`), 400},
		{"company in unicode", bodyReq("아파트", `{"id":"hong2","password":"1234"}`), 400},
		{"company with injection", bodyReq(`apt001" OR 1=1`, `{"id":"hong2","password":"1234"}`), 400},
		{"company with key separator", bodyReq("apt#001", `{"id":"hong2","password":"1234"}`), 400},
		{"missing company", bodyReq("", `{"id":"hong2","password":"1234"}`), 400},
	}
	embedded := testkit.IsEmbedded()
	var counter *testkit.Counter
	if embedded {
		counter = testkit.NewCounter(t, e.Tables)
	}
	for _, c := range cases {
		resp := e.call(t, c.req)
		b := testkit.ErrorBody(t, resp.Body)
		wantCode := map[int]string{400: apigw.CodeBadRequest, 413: apigw.CodeTooLarge}[c.status]
		if resp.StatusCode != c.status || b.Code != wantCode || b.Message == "" {
			t.Errorf("%s: status %d body %s; want %d %s", c.name, resp.StatusCode, resp.Body, c.status, wantCode)
		}
	}
	if embedded {
		if n := counter.Counts().Total(); n != 0 {
			t.Errorf("bad input reached DynamoDB %d times: %v", n, counter.Counts())
		}
	}
	// And none of it counted as a failed login.
	if n, err := e.Store.LoginSlots(context.Background(), store.LoginUserKey("apt001", "hong2")); err != nil || n != 0 {
		t.Fatalf("bad input counted as %d failures (%v)", n, err)
	}
}

func TestLogin_LogsNeverHoldPasswordsOrTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := e.call(t, bodyReq("apt001", `{"id":"hong2","password":"1234"}`))
	var body struct{ Token string }
	if err := json.Unmarshal([]byte(ok.Body), &body); err != nil || body.Token == "" {
		t.Fatalf("login: %d %s", ok.StatusCode, ok.Body)
	}
	e.call(t, queryReq("apt001", "id=hong2&password="+secretWord))
	e.call(t, queryReq("apt001", "id=nobody&password="+secretWord))
	e.call(t, bodyReq("apt001", `{"id":"kim","password":"`+otherPass+`"}`))
	logs := e.Logs.String()
	if !strings.Contains(logs, `"userId":"hong2"`) {
		t.Fatalf("expected login log lines, got %q", logs)
	}
	for _, secret := range []string{secretWord, otherPass, `"1234"`, body.Token, testkit.Secret} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestLogin_CostsOfTheLock(t *testing.T) {
	if !testkit.IsEmbedded() {
		t.Skip("counts requests at the embedded DynamoDB")
	}
	t.Parallel()
	e := newEnv(t)
	counter := testkit.NewCounter(t, e.Tables)
	steps := []struct {
		name     string
		password string
		status   int
		want     map[string]int // operation: requests
	}{
		// Opening both windows: a conditional update that fails, then one
		// that opens the window, per key; then the user, the latest room,
		// and the two slots given back.
		{"a first login", "1234", 200, map[string]int{"UpdateItem": 5, "GetItem": 1, "Query": 1, "DeleteItem": 1}},
		{"a failure", "wrong", 401, map[string]int{"UpdateItem": 3, "GetItem": 1}},
		{"a success after it", "1234", 200, map[string]int{"UpdateItem": 3, "GetItem": 1, "Query": 1, "DeleteItem": 1}},
	}
	for _, st := range steps {
		counter.Reset()
		req := bodyReq("apt001", `{"id":"hong2","password":"`+st.password+`"}`)
		req.RequestContext.HTTP.SourceIP = "192.0.2.1"
		if resp := e.call(t, req); resp.StatusCode != st.status {
			t.Fatalf("%s: status %d body %s", st.name, resp.StatusCode, resp.Body)
		}
		got := map[string]int{}
		for call, n := range counter.Counts() {
			got[call.Operation] += n
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: requests %v, want %v", st.name, got, st.want)
		}
	}
}

func TestLogin_ParallelGuessesGetAtMostTheLimitChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 30
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := bodyReq("apt001", `{"id":"hong2","password":"guess-`+strconv.Itoa(i)+`"}`)
			req.RequestContext.HTTP.SourceIP = "198.51.100." + strconv.Itoa(i+1) // a botnet: one address per guess
			resp := e.call(t, req)
			if resp.StatusCode == 429 && (testkit.ErrorBody(t, resp.Body).Code != apigw.CodeLoginThrottled || resp.Headers["Retry-After"] == "") {
				t.Errorf("429 without LOGIN_THROTTLED and Retry-After: %v %s", resp.Headers, resp.Body)
			}
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[401] > DefaultLockout.PerUser.Max || count[401]+count[429] != n {
		t.Fatalf("statuses %v: want at most %d 401 and the rest 429", count, DefaultLockout.PerUser.Max)
	}
	// The right password is refused too until the window closes.
	if resp := e.call(t, queryReq("apt001", "id=hong2&password=1234")); resp.StatusCode != 429 {
		t.Fatalf("right password after the guesses: status %d", resp.StatusCode)
	}
	// ... and after it, it works.
	e.h.now = func() time.Time { return time.Now().Add(DefaultLockout.PerUser.Window) }
	if resp := e.call(t, queryReq("apt001", "id=hong2&password=1234")); resp.StatusCode != 200 {
		t.Fatalf("right password after the window: status %d", resp.StatusCode)
	}
}

func TestLogin_SourceThatSpraysUsersIsThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	login := func(ip, user, password string) events.APIGatewayV2HTTPResponse {
		req := bodyReq("apt001", `{"id":"`+user+`","password":"`+password+`"}`)
		req.RequestContext.HTTP.SourceIP = ip
		return e.call(t, req)
	}
	const sprayer = "203.0.113.9"
	// Successes cost the source nothing.
	for range 3 {
		if resp := login(sprayer, "hong2", password); resp.StatusCode != 200 {
			t.Fatalf("login: status %d", resp.StatusCode)
		}
	}
	for i := range DefaultLockout.PerSource.Max {
		if resp := login(sprayer, "user"+strconv.Itoa(i), "1234"); resp.StatusCode != 401 {
			t.Fatalf("guess %d: status %d", i+1, resp.StatusCode)
		}
	}
	resp := login(sprayer, "user-next", "1234")
	if resp.StatusCode != 429 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeLoginThrottled {
		t.Fatalf("guess %d: status %d %s; want 429 LOGIN_THROTTLED", DefaultLockout.PerSource.Max+1, resp.StatusCode, resp.Body)
	}
	// The sprayer's right password is refused too; another address is not
	// affected, and the refused attempt cost the user no slot.
	if resp := login(sprayer, "kim", password); resp.StatusCode != 429 {
		t.Fatalf("sprayer's right password: status %d", resp.StatusCode)
	}
	if n, err := e.Store.LoginSlots(context.Background(), store.LoginUserKey("apt001", "user-next")); n != 0 || err != nil {
		t.Fatalf("the refused attempt holds %d slots of its user (%v)", n, err)
	}
	if resp := login("203.0.113.10", "kim", password); resp.StatusCode != 200 {
		t.Fatalf("other address: status %d", resp.StatusCode)
	}
	// An IPv6 sprayer is counted per /64.
	for i := range DefaultLockout.PerSource.Max {
		login("2001:db8:1:2::"+strconv.FormatInt(int64(i+1), 16), "v6user"+strconv.Itoa(i), "1234")
	}
	if resp := login("2001:db8:1:2:ffff::1", "hong2", password); resp.StatusCode != 429 {
		t.Fatalf("same /64: status %d", resp.StatusCode)
	}
}

func TestLogin_WrongRoleIsAFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	testkit.Put(t, e.Store.PutUser, []store.User{
		{CompanyID: "apt001", UserID: "agent1", UserName: "상담원-01", Role: store.UserRoleAgent, PasswordHash: hash1234()},
		{CompanyID: "apt001", UserID: "admin", UserName: "x", Role: "ADMIN", PasswordHash: hash1234()},
		{CompanyID: "apt001", UserID: "lower", UserName: "x", Role: "customer", PasswordHash: hash1234()},
	}...)
	agentReq := func(user string) events.APIGatewayV2HTTPRequest {
		r := bodyReq("apt001", `{"id":"`+user+`","password":"1234"}`)
		r.RouteKey = "POST /api/agent/{companyId}/login"
		r.RawPath = "/api/agent/apt001/login"
		return r
	}
	wrong := e.call(t, queryReq("apt001", "id=hong2&password=wrong"))
	cases := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		status int
	}{
		{"agent at the customer login", bodyReq("apt001", `{"id":"agent1","password":"1234"}`), 401},
		{"customer at the agent login", agentReq("hong2"), 401},
		{"unknown role", bodyReq("apt001", `{"id":"admin","password":"1234"}`), 401},
		{"unknown role at the agent login", agentReq("admin"), 401},
		{"role in lower case", bodyReq("apt001", `{"id":"lower","password":"1234"}`), 401},
		{"agent at the agent login", agentReq("agent1"), 200},
	}
	for _, c := range cases {
		resp := e.call(t, c.req)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d %s", c.name, resp.StatusCode, resp.Body)
			continue
		}
		if c.status == 401 && resp.Body != wrong.Body {
			t.Errorf("%s: body %s differs from a wrong password's %s", c.name, resp.Body, wrong.Body)
		}
	}
	// The refusals were counted: agent1 has one failure on record from the
	// customer login, cleared by its success at the agent login; admin two.
	for user, want := range map[string]int{"agent1": 0, "admin": 2, "hong2": 2} {
		if n, err := e.Store.LoginSlots(ctx, store.LoginUserKey("apt001", user)); n != want || err != nil {
			t.Errorf("%s: %d failures on record (%v), want %d", user, n, err, want)
		}
	}
	if !strings.Contains(e.Logs.String(), `"role":"ADMIN"`) {
		t.Errorf("the invalid role was not logged")
	}
}

func TestLogin_SampleEventsLogInTheTraceUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"login.json", "login-body.json"} {
		t.Run(name, func(t *testing.T) {
			var req events.APIGatewayV2HTTPRequest
			testkit.ReadEvent(t, name, &req)
			resp := e.call(t, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			var body Response
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.UserID != "hong2" || body.CompanyID != "apt001" || body.Token == "" {
				t.Fatalf("body %s (%v)", resp.Body, err)
			}
		})
	}
}

func TestMetrics_EachLoginReportsFailuresAndThrottlesAsEMF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var buf bytes.Buffer
	e.h.Metrics = metrics.New(&buf, "ragchat/test")

	e.call(t, bodyReq("apt001", `{"id":"hong2","password":"1234"}`))
	for i := range 6 { // five failures lock the key; the sixth attempt is throttled
		e.call(t, bodyReq("apt001", fmt.Sprintf(`{"id":"kim","password":"wrong-%d"}`, i)))
	}
	lines := emftest.Lines(t, buf.Bytes())
	sum := map[string]float64{}
	for _, l := range lines {
		if l.Namespace != "ragchat/test" || l.Dimensions["Function"] != "login" || len(l.Dimensions) != 1 {
			t.Errorf("line %+v", l)
		}
		for name, v := range l.Metrics {
			sum[name] += v
			if l.Units[name] != "Count" {
				t.Errorf("%s unit %q", name, l.Units[name])
			}
		}
	}
	if sum["Logins"] != 7 || sum["LoginFailures"] != 5 || sum["LoginThrottled"] != 1 {
		t.Errorf("sums %v, want 7 logins, 5 failures, 1 throttled", sum)
	}
}

// newAgentEnv is newEnv plus the agent apt001/agent1 (password 1234).
func newAgentEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	agent := store.User{CompanyID: "apt001", UserID: "agent1", UserName: "상담원-01", Email: "agent1@example.com",
		Role: store.UserRoleAgent, PasswordHash: hash1234()}
	testkit.Put(t, e.Store.PutUser, agent)
	return e
}

// TestLogin_AgentLoginGivesAnAgentToken: the agent route's sample event
// (events/login-agent.json) logs agent1 in with the customer login's shape
// and a token whose role is AGENT. (Refusals of the other role:
// TestLogin_WrongRoleIsAFailure.)
func TestLogin_AgentLoginGivesAnAgentToken(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)
	var req events.APIGatewayV2HTTPRequest
	testkit.ReadEvent(t, "login-agent.json", &req)
	resp := e.call(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	want := []string{"userId", "userName", "role", "email", "token", "roomId", "companyId"}
	if got := testkit.KeysInOrder(t, resp.Body); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	var body Response
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Role != store.UserRoleAgent || body.UserName != "상담원-01" || body.RoomID != nil {
		t.Fatalf("body = %+v", body)
	}
	id, err := testkit.Tokens().Verify(body.Token, time.Now())
	if want := testkit.Agent(1); err != nil || id != want {
		t.Fatalf("token identity = %+v, %v; want %+v", id, err, want)
	}
}
