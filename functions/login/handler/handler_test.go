package handler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/crypto/bcrypt"

	"github.com/ragchat/ragchat/internal/testenv"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

const (
	password   = "1234"
	otherPass  = "s3cret-other-pw"
	secretWord = "hunter2-wrong" // a wrong password that must never be logged
)

// cheapPasswords hashes at bcrypt's minimum cost: at the production cost
// bcrypt under -race makes these tests take minutes. auth's own tests pin
// the production cost and its dummy hash.
var cheapPasswords = sync.OnceValue(func() *auth.Passwords {
	p, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return p
})

var hash1234 = sync.OnceValue(func() string {
	h, err := cheapPasswords().Hash(password)
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
	ctx := context.Background()
	for _, u := range []store.User{
		{CompanyID: "apt001", UserID: "hong2", UserName: "고객-275b", Email: "hong2@example.com", Role: store.UserRoleCustomer, PasswordHash: hash1234()},
		{CompanyID: "apt001", UserID: "kim", UserName: "김", Role: store.UserRoleCustomer, PasswordHash: hash1234()},
	} {
		if err := e.Store.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return &env{Env: e, h: New(e.Store, testkit.Tokens(), cheapPasswords(), e.Log)}
}

func queryReq(company, rawQuery string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		RouteKey:       "POST /api/customer/{companyId}/login",
		RawPath:        "/api/customer/" + company + "/login",
		RawQueryString: rawQuery,
		PathParameters: map[string]string{"companyId": company},
	}
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
		if err := e.Store.CreateRoom(context.Background(), store.Room{RoomID: id, CompanyID: "apt001", UserID: "hong2",
			Members: []string{}, CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
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
	embedded := testenv.IsEmbedded()
	var counter *testenv.Counter
	if embedded {
		counter = testenv.NewCounter(t, e.Tables)
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
			for i := range store.MaxLoginFailures {
				if resp := e.call(t, queryReq("apt001", "id="+user+"&password=wrong")); resp.StatusCode != 401 {
					t.Fatalf("failure %d: status %d", i+1, resp.StatusCode)
				}
			}
			resp := e.call(t, queryReq("apt001", "id="+user+"&password=1234"))
			if resp.StatusCode != 429 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeLoginThrottled || resp.Headers["Retry-After"] == "" {
				t.Fatalf("after %d failures: status %d headers %v body %s", store.MaxLoginFailures, resp.StatusCode, resp.Headers, resp.Body)
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
	for range store.MaxLoginFailures - 1 {
		fail()
	}
	if resp := e.call(t, queryReq("apt001", "id=hong2&password=1234")); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for range store.MaxLoginFailures - 1 {
		fail()
	}
	if resp := e.call(t, queryReq("apt001", "id=hong2&password=1234")); resp.StatusCode != 200 {
		t.Fatalf("after reset and %d failures: status %d", store.MaxLoginFailures-1, resp.StatusCode)
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
	embedded := testenv.IsEmbedded()
	var counter *testenv.Counter
	if embedded {
		counter = testenv.NewCounter(t, e.Tables)
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
	if state, err := e.Store.LoginState(context.Background(), store.LoginAttemptKey("apt001", "hong2"), time.Now()); err != nil || state.Locked || state.Failures != 0 {
		t.Fatalf("hong2 throttled by bad input: %+v %v", state, err)
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

func TestLogin_ClearsTheThrottleOnlyWhenThereWereFailures(t *testing.T) {
	if !testenv.IsEmbedded() {
		t.Skip("counts requests at the embedded DynamoDB")
	}
	t.Parallel()
	e := newEnv(t)
	counter := testenv.NewCounter(t, e.Tables)
	deletes := func() int {
		return counter.Counts().Filter(func(c dynamo.Call) bool { return c.Operation == "DeleteItem" }).Total()
	}
	steps := []struct {
		name        string
		password    string
		status      int
		wantDeletes int
		wantTotal   int
	}{
		{"a clean login reads three items and writes nothing", "1234", 200, 0, 3},
		{"a failure is counted (opening a window: two conditional updates)", "wrong", 401, 0, 4},
		{"the next success clears it", "1234", 200, 1, 4},
		{"and the one after writes nothing again", "1234", 200, 0, 3},
	}
	for _, st := range steps {
		counter.Reset()
		if resp := e.call(t, bodyReq("apt001", `{"id":"hong2","password":"`+st.password+`"}`)); resp.StatusCode != st.status {
			t.Fatalf("%s: status %d body %s", st.name, resp.StatusCode, resp.Body)
		}
		if d, n := deletes(), counter.Counts().Total(); d != st.wantDeletes || n != st.wantTotal {
			t.Errorf("%s: %d deletes, %d requests (%v); want %d, %d", st.name, d, n, counter.Counts(), st.wantDeletes, st.wantTotal)
		}
	}
}
