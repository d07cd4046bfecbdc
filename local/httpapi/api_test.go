package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/testkit"
)

// fakeInvoker records the events it gets and answers with a fixed output,
// or with what its answer function returns.
type fakeInvoker struct {
	mu     sync.Mutex
	calls  []call
	out    []byte
	err    error
	answer func(ctx context.Context) ([]byte, error)
}

type call struct {
	function string
	event    events.APIGatewayV2HTTPRequest
}

func (f *fakeInvoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{function, ev})
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(ctx)
	}
	return f.out, f.err
}

func (f *fakeInvoker) last(t *testing.T) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("function was not invoked")
	}
	return f.calls[len(f.calls)-1]
}

var templateRoutes = []Route{
	{Method: "POST", Path: "/api/customer/{companyId}/login", Function: "LoginFunction"},
	{Method: "POST", Path: "/api/customer/chatbot", Function: "ChatbotFunction"},
}

func newServer(t *testing.T, routes []Route, inv Invoker, opts Options) *httptest.Server {
	t.Helper()
	api, err := New(routes, inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, body := testkit.Do(t, nil, req)
	return resp, string(body)
}

func TestEvent_CarriesPayloadFormat2Fields(t *testing.T) {
	inv := &fakeInvoker{out: []byte(`{"statusCode":200,"body":"{}"}`)}
	srv := newServer(t, templateRoutes, inv, Options{APIID: "abc123", AccountID: "111122223333"})
	body := `{"id":"hong2","password":"1234"}`
	req, _ := http.NewRequest("POST", srv.URL+"/api/customer/apt001/login?id=hong2&lang=ko&lang=en&q=%EC%A3%BC%EC%B0%A8", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "test-agent/1.0")
	req.Header.Add("X-Custom", "a")
	req.Header.Add("X-Custom", "b")
	req.Header.Set("Cookie", "s=1; theme=dark")
	before := time.Now()
	resp, _ := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c := inv.last(t)
	ev := c.event
	if c.function != "LoginFunction" {
		t.Errorf("function = %s", c.function)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "POST /api/customer/{companyId}/login"},
		{"rawPath", ev.RawPath, "/api/customer/apt001/login"},
		{"rawQueryString", ev.RawQueryString, "id=hong2&lang=ko&lang=en&q=%EC%A3%BC%EC%B0%A8"},
		{"queryStringParameters", ev.QueryStringParameters, map[string]string{"id": "hong2", "lang": "ko,en", "q": "주차"}},
		{"pathParameters", ev.PathParameters, map[string]string{"companyId": "apt001"}},
		{"cookies", ev.Cookies, []string{"s=1", "theme=dark"}},
		{"header content-type", ev.Headers["content-type"], "application/json"},
		{"duplicate headers joined", ev.Headers["x-custom"], "a,b"},
		{"cookie header moved to cookies", ev.Headers["cookie"], ""},
		{"host header", ev.Headers["host"], strings.TrimPrefix(srv.URL, "http://")},
		{"x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1"},
		{"body", ev.Body, body},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
		{"requestContext.routeKey", ev.RequestContext.RouteKey, "POST /api/customer/{companyId}/login"},
		{"requestContext.stage", ev.RequestContext.Stage, "$default"},
		{"requestContext.apiId", ev.RequestContext.APIID, "abc123"},
		{"requestContext.accountId", ev.RequestContext.AccountID, "111122223333"},
		{"requestContext.domainName", ev.RequestContext.DomainName, "127.0.0.1"},
		{"requestContext.http.method", ev.RequestContext.HTTP.Method, "POST"},
		{"requestContext.http.path", ev.RequestContext.HTTP.Path, "/api/customer/apt001/login"},
		{"requestContext.http.protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"requestContext.http.sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"requestContext.http.userAgent", ev.RequestContext.HTTP.UserAgent, "test-agent/1.0"},
		{"requestId header", resp.Header.Get("Apigw-Requestid"), ev.RequestContext.RequestID},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if ev.RequestContext.RequestID == "" {
		t.Error("requestContext.requestId is empty")
	}
	if ev.RequestContext.TimeEpoch < before.UnixMilli() {
		t.Errorf("timeEpoch %d before the request", ev.RequestContext.TimeEpoch)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", ev.RequestContext.Time); err != nil {
		t.Errorf("requestContext.time %q: %v", ev.RequestContext.Time, err)
	}
}

func TestEvent_BinaryBodyIsBase64(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"json", "application/json; charset=utf-8", []byte(`{"a":"한글"}`), false},
		{"form", "application/x-www-form-urlencoded", []byte("id=hong2"), false},
		{"no content type, UTF-8", "", []byte("hello"), false},
		{"octet-stream", "application/octet-stream", []byte("hello"), true},
		{"invalid UTF-8 as text", "text/plain", []byte{0xff, 0xfe, 0x00}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{out: []byte(`{"statusCode":204}`)}
			srv := newServer(t, templateRoutes, inv, Options{})
			req, _ := http.NewRequest("POST", srv.URL+"/api/customer/chatbot", bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			do(t, req)
			ev := inv.last(t).event
			if ev.IsBase64Encoded != tt.wantBase64 {
				t.Fatalf("isBase64Encoded = %v, want %v", ev.IsBase64Encoded, tt.wantBase64)
			}
			got := []byte(ev.Body)
			if ev.IsBase64Encoded {
				got, _ = base64.StdEncoding.DecodeString(ev.Body)
			}
			if !bytes.Equal(got, tt.body) {
				t.Fatalf("body = %q, want %q", got, tt.body)
			}
		})
	}
}

func TestRouting_ChoosesMostSpecificRoute(t *testing.T) {
	routes := []Route{
		{Method: "POST", Path: "/api/customer/{companyId}/login", Function: "Login"},
		{Method: "POST", Path: "/api/customer/chatbot", Function: "Chatbot"},
		{Method: "POST", Path: "/api/customer/{companyId}", Function: "Company"},
		{Method: "GET", Path: "/files/{proxy+}", Function: "Files"},
		{Method: "GET", Path: "/files/special", Function: "Special"},
		{Method: "ANY", Path: "/any/{x}", Function: "AnyX"},
		{Method: "DELETE", Path: "/any/{x}", Function: "DeleteX"},
	}
	tests := []struct {
		method, path string
		wantFunction string // "" = 404
		wantParams   map[string]string
	}{
		{"POST", "/api/customer/apt001/login", "Login", map[string]string{"companyId": "apt001"}},
		{"POST", "/api/customer/apt%20001/login", "Login", map[string]string{"companyId": "apt 001"}},
		{"POST", "/api/customer/chatbot", "Chatbot", nil},
		{"POST", "/api/customer/apt001", "Company", map[string]string{"companyId": "apt001"}},
		{"GET", "/api/customer/apt001/login", "", nil},
		{"POST", "/api/customer/apt001/login/extra", "", nil},
		{"POST", "/api/customer//login", "", nil},
		{"GET", "/files/a/b%2Fc/d", "Files", map[string]string{"proxy": "a/b/c/d"}},
		{"GET", "/files/special", "Special", nil},
		{"GET", "/files/", "", nil},
		{"PUT", "/any/1", "AnyX", map[string]string{"x": "1"}},
		{"DELETE", "/any/1", "DeleteX", map[string]string{"x": "1"}},
		{"GET", "/nowhere", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			inv := &fakeInvoker{out: []byte(`{}`)}
			srv := newServer(t, routes, inv, Options{})
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, body := do(t, req)
			if tt.wantFunction == "" {
				if resp.StatusCode != 404 || body != `{"message":"Not Found"}` {
					t.Fatalf("got %d %s, want API Gateway's 404", resp.StatusCode, body)
				}
				return
			}
			c := inv.last(t)
			if c.function != tt.wantFunction || !reflect.DeepEqual(c.event.PathParameters, tt.wantParams) {
				t.Fatalf("invoked %s with %v, want %s with %v", c.function, c.event.PathParameters, tt.wantFunction, tt.wantParams)
			}
		})
	}
}

func TestRouting_DefaultRouteCatchesTheRest(t *testing.T) {
	inv := &fakeInvoker{out: []byte(`{}`)}
	srv := newServer(t, append([]Route{{Path: "$default", Function: "Default"}}, templateRoutes...), inv, Options{})
	req, _ := http.NewRequest("PATCH", srv.URL+"/whatever/path", nil)
	do(t, req)
	if c := inv.last(t); c.function != "Default" || c.event.RouteKey != "$default" {
		t.Fatalf("invoked %s with route key %s", c.function, c.event.RouteKey)
	}
}

func TestNew_RejectsBadRoutes(t *testing.T) {
	tests := []struct {
		name   string
		routes []Route
	}{
		{"duplicate", []Route{{"GET", "/a", "A"}, {"get", "/a", "B"}}},
		{"greedy not last", []Route{{"GET", "/{p+}/a", "A"}}},
		{"relative path", []Route{{"GET", "a", "A"}}},
		{"no function", []Route{{"GET", "/a", ""}}},
		{"malformed variable", []Route{{"GET", "/a{b}", "A"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.routes, &fakeInvoker{}, Options{}); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestResponse_MapsFunctionOutput(t *testing.T) {
	tests := []struct {
		name        string
		out         string
		wantStatus  int
		wantHeaders map[string][]string
		wantBody    string
	}{
		{"structured", `{"statusCode":201,"headers":{"Content-Type":"application/json","X-A":"1"},"body":"{\"roomId\":\"room-1\"}"}`,
			201, map[string][]string{"Content-Type": {"application/json"}, "X-A": {"1"}}, `{"roomId":"room-1"}`},
		{"cookies become Set-Cookie", `{"statusCode":200,"cookies":["a=1; Path=/","b=2"],"body":"ok"}`,
			200, map[string][]string{"Set-Cookie": {"a=1; Path=/", "b=2"}}, "ok"},
		{"multiValueHeaders", `{"statusCode":200,"multiValueHeaders":{"X-M":["1","2"]},"body":""}`,
			200, map[string][]string{"X-M": {"1", "2"}}, ""},
		{"base64 body decoded", `{"statusCode":200,"isBase64Encoded":true,"body":"` + base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}) + `"}`,
			200, nil, "\x00\x01\x02\xff"},
		{"content-length from the function ignored", `{"statusCode":200,"headers":{"Content-Length":"999"},"body":"short"}`,
			200, nil, "short"},
		{"simple object", `{"roomId":"room-1"}`, 200, map[string][]string{"Content-Type": {"application/json"}}, `{"roomId":"room-1"}`},
		{"simple string", `"hello"`, 200, map[string][]string{"Content-Type": {"application/json"}}, `"hello"`},
		{"invalid JSON", `not json`, 500, nil, `{"message":"Internal Server Error"}`},
		{"status out of range", `{"statusCode":42}`, 500, nil, `{"message":"Internal Server Error"}`},
		{"bad base64", `{"statusCode":200,"isBase64Encoded":true,"body":"%%%"}`, 500, nil, `{"message":"Internal Server Error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, templateRoutes, &fakeInvoker{out: []byte(tt.out)}, Options{})
			req, _ := http.NewRequest("POST", srv.URL+"/api/customer/chatbot", nil)
			resp, body := do(t, req)
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			for k, v := range tt.wantHeaders {
				if got := resp.Header.Values(k); !reflect.DeepEqual(got, v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestErrors_AnswerLikeAPIGateway(t *testing.T) {
	block := func(ctx context.Context) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	tests := []struct {
		name       string
		inv        *fakeInvoker
		body       io.Reader
		wantStatus int
		wantBody   string
	}{
		{"function error", &fakeInvoker{err: errors.New("function error Runtime.ExitError: boom")}, nil,
			500, `{"message":"Internal Server Error"}`},
		{"integration timeout", &fakeInvoker{answer: block}, nil,
			503, `{"message":"Service Unavailable"}`},
		{"body over 10 MB", &fakeInvoker{out: []byte(`{}`)}, bytes.NewReader(make([]byte, MaxRequestBodyBytes+1)),
			413, `{"message":"Request Entity Too Large"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, templateRoutes, tt.inv, Options{IntegrationTimeout: 50 * time.Millisecond})
			req, _ := http.NewRequest("POST", srv.URL+"/api/customer/chatbot", tt.body)
			resp, body := do(t, req)
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

func TestFallback_ServesNonAPIGetRequests(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "page "+r.URL.Path)
	})
	inv := &fakeInvoker{out: []byte(`{}`)}
	srv := newServer(t, templateRoutes, inv, Options{Fallback: page})
	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"GET", "/", 200, "page /"},
		{"GET", "/app.js", 200, "page /app.js"},
		{"POST", "/", 404, `{"message":"Not Found"}`},
		{"GET", "/api/customer/chatbot", 200, "page /api/customer/chatbot"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, body := do(t, req)
		if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
			t.Errorf("%s %s: got %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
		}
	}
}

func TestCORS_PreflightAndResponseHeaders(t *testing.T) {
	cors := &CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"POST", "OPTIONS"},
		AllowHeaders: []string{"Authorization", "Content-Type"}, MaxAge: 600}
	inv := &fakeInvoker{out: []byte(`{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"https://evil.example"},"body":"{}"}`)}
	srv := newServer(t, templateRoutes, inv, Options{CORS: cors})

	pre, _ := http.NewRequest("OPTIONS", srv.URL+"/api/customer/chatbot", nil)
	pre.Header.Set("Origin", "http://localhost:8080")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "authorization")
	resp, _ := do(t, pre)
	want := map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "POST,OPTIONS",
		"Access-Control-Allow-Headers": "authorization,content-type",
		"Access-Control-Max-Age":       "600",
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight status %d", resp.StatusCode)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	if len(inv.calls) != 0 {
		t.Fatal("preflight reached the function")
	}

	req, _ := http.NewRequest("POST", srv.URL+"/api/customer/chatbot", nil)
	req.Header.Set("Origin", "http://localhost:8080")
	resp, _ = do(t, req)
	if got := resp.Header.Values("Access-Control-Allow-Origin"); !reflect.DeepEqual(got, []string{"*"}) {
		t.Fatalf("response Access-Control-Allow-Origin = %q, want API Gateway's [*]", got)
	}
}

func TestEvent_MalformedQueryIsPassedOnNotRefused(t *testing.T) {
	inv := &fakeInvoker{out: []byte(`{"statusCode":400,"body":"{}"}`)}
	srv := newServer(t, templateRoutes, inv, Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/customer/apt001/login?id=%zz&password=p%20w&id=b", nil)
	resp, _ := do(t, req)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want the function's 400", resp.StatusCode)
	}
	ev := inv.last(t).event
	if ev.RawQueryString != "id=%zz&password=p%20w&id=b" {
		t.Errorf("rawQueryString %q", ev.RawQueryString)
	}
	want := map[string]string{"id": "%zz,b", "password": "p w"}
	if !reflect.DeepEqual(ev.QueryStringParameters, want) {
		t.Errorf("queryStringParameters %v, want %v", ev.QueryStringParameters, want)
	}
}
