package wsapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

func TestConnect_EventCarriesAPIGatewayFields(t *testing.T) {
	h := start(t, Config{APIID: "abc123def4"}, nil)
	hdr := http.Header{}
	hdr.Set("User-Agent", "ragchat-test/1.0")
	hdr.Set("X-Custom", "v")
	_, ev := h.dial("token=t0k&roomId=r1&roomId=r2", &websocket.DialOptions{HTTPHeader: hdr})

	rc := ev.RequestContext
	host := strings.TrimPrefix(h.ts.URL, "http://")
	checks := []struct {
		name      string
		got, want any
	}{
		{"routeKey", rc.RouteKey, "$connect"},
		{"eventType", rc.EventType, "CONNECT"},
		{"messageDirection", rc.MessageDirection, "IN"},
		{"stage", rc.Stage, "prod"},
		{"apiId", rc.APIID, "abc123def4"},
		{"domainName", rc.DomainName, host},
		{"extendedRequestId", rc.ExtendedRequestID, rc.RequestID},
		{"identity.sourceIp", rc.Identity.SourceIP, "127.0.0.1"},
		{"identity.userAgent", rc.Identity.UserAgent, "ragchat-test/1.0"},
		{"messageId", rc.MessageID, nil},
		{"query token", ev.QueryStringParameters["token"], "t0k"},
		{"query roomId (last value)", ev.QueryStringParameters["roomId"], "r2"},
		{"multi query roomId", strings.Join(ev.MultiValueQueryStringParameters["roomId"], ","), "r1,r2"},
		{"header Host", ev.Headers["Host"], host},
		{"header X-Custom", ev.Headers["X-Custom"], "v"},
		{"header X-Forwarded-For", ev.Headers["X-Forwarded-For"], "127.0.0.1"},
		{"header X-Forwarded-Proto", ev.Headers["X-Forwarded-Proto"], "http"},
		{"multi header X-Custom", strings.Join(ev.MultiValueHeaders["X-Custom"], ","), "v"},
		{"body", ev.Body, ""},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !idPattern.MatchString(rc.ConnectionID) || !idPattern.MatchString(rc.RequestID) {
		t.Errorf("connectionId %q / requestId %q not shaped like API Gateway's", rc.ConnectionID, rc.RequestID)
	}
	if ev.Headers["Sec-Websocket-Key"] == "" {
		t.Errorf("upgrade headers missing: %v", ev.Headers)
	}
	at, err := time.Parse(requestTimeLayout, rc.RequestTime)
	if err != nil {
		t.Fatalf("requestTime %q: %v", rc.RequestTime, err)
	}
	if at.Unix() != rc.RequestTimeEpoch/1000 || rc.ConnectedAt == 0 || rc.ConnectedAt > rc.RequestTimeEpoch {
		t.Errorf("requestTime %q, requestTimeEpoch %d, connectedAt %d disagree", rc.RequestTime, rc.RequestTimeEpoch, rc.ConnectedAt)
	}
}

func TestConnect_NonSuccessStatusRefusesHandshake(t *testing.T) {
	release := make(chan struct{})
	tests := []struct {
		name       string
		handle     handlerFunc
		wantStatus int
		wantBody   string
		wantHeader [2]string
	}{
		{
			name: "401 with body and headers",
			handle: func(context.Context, call) ([]byte, error) {
				return []byte(`{"statusCode":401,"headers":{"Content-Type":"application/json","X-Reason":"token"},"body":"{\"code\":\"UNAUTHORIZED\"}"}`), nil
			},
			wantStatus: 401, wantBody: `{"code":"UNAUTHORIZED"}`, wantHeader: [2]string{"X-Reason", "token"},
		},
		{
			name: "403 base64 body",
			handle: func(context.Context, call) ([]byte, error) {
				return []byte(`{"statusCode":403,"body":"bm8=","isBase64Encoded":true}`), nil
			},
			wantStatus: 403, wantBody: "no",
		},
		{
			name: "function error is 500",
			handle: func(context.Context, call) ([]byte, error) {
				return nil, errors.New("Runtime.ExitError")
			},
			wantStatus: 500, wantBody: `{"message":"Internal server error"}`,
		},
		{
			name: "response without status code is 500",
			handle: func(context.Context, call) ([]byte, error) {
				return []byte(`null`), nil
			},
			wantStatus: 500, wantBody: `{"message":"Internal server error"}`,
		},
		{
			name: "integration timeout is 504",
			handle: func(ctx context.Context, _ call) ([]byte, error) {
				<-release
				return []byte(`{"statusCode":200}`), nil
			},
			wantStatus: 504, wantBody: `{"message":"Endpoint request timed out"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, Config{IntegrationTimeout: 50 * time.Millisecond}, tt.handle)
			_, resp, err := websocket.Dial(ctxGuard(t), h.wsURL("token=bad"), nil)
			if err == nil {
				t.Fatal("handshake accepted")
			}
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("refusal = %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if k := tt.wantHeader[0]; k != "" && resp.Header.Get(k) != tt.wantHeader[1] {
				t.Errorf("header %s = %q, want %q", k, resp.Header.Get(k), tt.wantHeader[1])
			}
			h.next(connectFn)
			if tt.wantStatus == 504 {
				release <- struct{}{}
			}
			h.shutdown()
			h.noMore(disconnectFn)
		})
	}
}

func TestConnect_WithoutConnectRouteAccepts(t *testing.T) {
	h := start(t, Config{Routes: map[string]string{RouteDefault: defaultFn}}, nil)
	c, _ := h.dial("", nil)
	if err := c.Write(ctxGuard(t), websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got := h.next(defaultFn).event.Body; got != "hi" {
		t.Errorf("body = %q", got)
	}
}

func TestConnect_IntegrationSelectsSubprotocol(t *testing.T) {
	h := start(t, Config{}, func(_ context.Context, c call) ([]byte, error) {
		if c.function == connectFn {
			return []byte(`{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"chat.v2"}}`), nil
		}
		return []byte(`{"statusCode":200}`), nil
	})
	c, ev := h.dial("", &websocket.DialOptions{Subprotocols: []string{"chat.v1", "chat.v2"}})
	if c.Subprotocol() != "chat.v2" {
		t.Errorf("subprotocol = %q, want chat.v2", c.Subprotocol())
	}
	if got := ev.Headers["Sec-Websocket-Protocol"]; got != "chat.v1,chat.v2" {
		t.Errorf("$connect Sec-WebSocket-Protocol header = %q", got)
	}
}

func TestServeHTTP_NonUpgradeAndUnknownPaths(t *testing.T) {
	h := start(t, Config{}, nil)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/prod", http.StatusUpgradeRequired},
		{"POST", "/prod", http.StatusMethodNotAllowed},
		{"GET", "/dev", http.StatusNotFound},
		{"GET", "/prod/other", http.StatusNotFound},
		{"PUT", "/prod/@connections/AAAAAAAAAAAAAAA=", http.StatusMethodNotAllowed},
		{"GET", "/prod/%40connections/AAAAAAAAAAAAAAA%3D", http.StatusGone},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, h.ts.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
	h.noMore(connectFn)
}

func TestNew_RejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no stage", Config{}},
		{"stage with slash", Config{Stage: "a/b"}},
		{"bad expression", Config{Stage: "prod", RouteSelectionExpression: "$request.header.x"}},
		{"route without function", Config{Stage: "prod", Routes: map[string]string{"x": ""}}},
		{"bad faults", Config{Stage: "prod", Faults: Faults{Status: 418}}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg, &fakeInvoker{}, nil); err == nil {
			t.Errorf("%s: New accepted %+v", tt.name, tt.cfg)
		}
	}
}

func TestServer_SocketOutlivesHTTPServerTimeouts(t *testing.T) {
	h := start(t, Config{}, nil)
	h.ts.Close()
	ts := httptest.NewUnstartedServer(h.srv)
	ts.Config.ReadTimeout = 20 * time.Millisecond
	ts.Config.WriteTimeout = 20 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	h.ts = ts

	c, ev := h.dial("", nil)
	time.Sleep(60 * time.Millisecond) // past both server timeouts
	if _, err := h.sdk().PostToConnection(ctxGuard(t), postInput(ev.RequestContext.ConnectionID, []byte("late"))); err != nil {
		t.Fatalf("post: %v", err)
	}
	if _, got := read(t, c); string(got) != "late" {
		t.Errorf("client got %q", got)
	}
	if err := c.Write(ctxGuard(t), websocket.MessageText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if got := h.next(defaultFn).event.Body; got != "still here" {
		t.Errorf("body = %q", got)
	}
}
