package wsapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestSelector_RouteKey(t *testing.T) {
	tests := []struct {
		expr, body string
		want       string
		wantOK     bool
	}{
		{"$request.body.action", `{"action":"sendMessage","message":"책"}`, "sendMessage", true},
		{"${request.body.action}", `{"action":"sendMessage"}`, "sendMessage", true},
		{"$request.body.meta.kind", `{"meta":{"kind":"ask"}}`, "ask", true},
		{"$request.body.action", ` {"action":"a"} `, "a", true},
		{"$request.body.action", `{"action":5}`, "5", true},
		{"$request.body.action", `{"action":1.50}`, "1.50", true},
		{"$request.body.action", `{"action":true}`, "true", true},
		{"$request.body.action", `{"action":""}`, "", true},
		{"$request.body.action", `{"action":null}`, "", false},
		{"$request.body.action", `{"action":{"x":1}}`, "", false},
		{"$request.body.action", `{"action":["a"]}`, "", false},
		{"$request.body.action", `{"other":"a"}`, "", false},
		{"$request.body.action", `["action"]`, "", false},
		{"$request.body.action", `not json`, "", false},
		{"$request.body.action", `{"action":"a"} {"action":"b"}`, "", false},
		{"$request.body.action", `{"action":"a"}}`, "", false},
		{"$request.body.action", ``, "", false},
		{"$request.body.meta.kind", `{"meta":"kind"}`, "", false},
	}
	for _, tt := range tests {
		sel, err := parseSelection(tt.expr)
		if err != nil {
			t.Fatalf("parseSelection(%q): %v", tt.expr, err)
		}
		got, ok := sel.routeKey([]byte(tt.body))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s on %q = %q %v, want %q %v", tt.expr, tt.body, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseSelection_RejectsUnsupportedExpressions(t *testing.T) {
	for _, expr := range []string{"$request.body.", "$request.body..a", "$request.header.x", "action", "${request.body.a"} {
		if _, err := parseSelection(expr); err == nil {
			t.Errorf("parseSelection(%q) accepted", expr)
		}
	}
}

func TestServer_RouteFallsBackToDefault(t *testing.T) {
	routes := testRoutes()
	routes["5"] = "FiveFunction"
	s, err := New(Config{Stage: "prod", Routes: routes}, &fakeInvoker{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		body, wantKey, wantFn string
	}{
		{`{"action":"sendMessage"}`, "sendMessage", messageFn},
		{`{"action":5}`, "5", "FiveFunction"},
		{`{"action":"unknown"}`, RouteDefault, defaultFn},
		{`{"action":"$connect"}`, RouteDefault, defaultFn},
		{`{"action":"$disconnect"}`, RouteDefault, defaultFn},
		{`{"action":"$default"}`, RouteDefault, defaultFn},
		{`plain text`, RouteDefault, defaultFn},
	}
	for _, tt := range tests {
		key, fn, ok := s.route(s.selected([]byte(tt.body)))
		if !ok || key != tt.wantKey || fn != tt.wantFn {
			t.Errorf("route(%s) = %q %q %v, want %q %q", tt.body, key, fn, ok, tt.wantKey, tt.wantFn)
		}
	}
}

func TestMessage_EventCarriesAPIGatewayFields(t *testing.T) {
	h := start(t, Config{}, nil)
	c, connectEv := h.dial("", nil)
	ctx := ctxGuard(t)

	text := `{"action":"sendMessage","message":"책은 어떤 재료로 만듭니까?"}`
	if err := c.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		t.Fatal(err)
	}
	ev := h.next(messageFn).event
	rc := ev.RequestContext
	if rc.RouteKey != "sendMessage" || rc.EventType != "MESSAGE" || rc.MessageDirection != "IN" ||
		ev.Body != text || ev.IsBase64Encoded {
		t.Errorf("message event = %+v", ev)
	}
	if rc.ConnectionID != connectEv.RequestContext.ConnectionID || rc.ConnectedAt != connectEv.RequestContext.ConnectedAt {
		t.Errorf("connection fields %q/%d differ from $connect's", rc.ConnectionID, rc.ConnectedAt)
	}
	msgID, _ := rc.MessageID.(string)
	if !idPattern.MatchString(msgID) || msgID == rc.RequestID || rc.RequestID == connectEv.RequestContext.RequestID {
		t.Errorf("messageId %q, requestId %q", msgID, rc.RequestID)
	}
	if rc.Stage != "prod" || rc.APIID != DefaultAPIID || rc.Identity.SourceIP != "127.0.0.1" || rc.DomainName == "" {
		t.Errorf("request context = %+v", rc)
	}
	if ev.Headers != nil || ev.QueryStringParameters != nil {
		t.Errorf("message event carries headers or query: %+v", ev)
	}

	bin := []byte{0xff, 0x00, 'a'}
	if err := c.Write(ctx, websocket.MessageBinary, bin); err != nil {
		t.Fatal(err)
	}
	ev = h.next(defaultFn).event
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(bin) || ev.RequestContext.RouteKey != RouteDefault {
		t.Errorf("binary message event: body %q base64 %v route %q", ev.Body, ev.IsBase64Encoded, ev.RequestContext.RouteKey)
	}
}

func TestMessage_NoMatchingRouteAndNoDefaultGetsForbiddenFrame(t *testing.T) {
	h := start(t, Config{Routes: map[string]string{"sendMessage": messageFn}}, nil)
	c, _ := h.dial("", nil)
	if err := c.Write(ctxGuard(t), websocket.MessageText, []byte(`{"action":"other"}`)); err != nil {
		t.Fatal(err)
	}
	_, frame := read(t, c)
	var f struct{ Message, ConnectionID, RequestID string }
	if err := json.Unmarshal(frame, &f); err != nil {
		t.Fatalf("frame %s: %v", frame, err)
	}
	if f.Message != "Forbidden" || !idPattern.MatchString(f.ConnectionID) || !idPattern.MatchString(f.RequestID) {
		t.Errorf("frame = %s", frame)
	}
}

// sendMessageGetsErrorFrame sends a sendMessage action on a new connection
// and checks the answer is API Gateway's error frame with message, naming
// the connection and the request the message function was invoked for.
func sendMessageGetsErrorFrame(t *testing.T, h *harness, message string) {
	t.Helper()
	c, connectEv := h.dial("", nil)
	if err := c.Write(ctxGuard(t), websocket.MessageText, []byte(`{"action":"sendMessage"}`)); err != nil {
		t.Fatal(err)
	}
	ev := h.next(messageFn).event
	_, frame := read(t, c)
	want := fmt.Sprintf(`{"message": "%s", "connectionId":"%s", "requestId":"%s"}`,
		message, connectEv.RequestContext.ConnectionID, ev.RequestContext.RequestID)
	if string(frame) != want {
		t.Errorf("frame = %s\nwant    %s", frame, want)
	}
}

func TestMessage_SlowIntegrationGetsTimeoutFrameAndRunsOn(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	h := start(t, Config{IntegrationTimeout: 50 * time.Millisecond}, func(ctx context.Context, c call) ([]byte, error) {
		if c.function != messageFn {
			return []byte(`{"statusCode":200}`), nil
		}
		<-release
		defer close(finished)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("invocation canceled: %w", ctx.Err())
		}
		return []byte(`{"statusCode":200}`), nil
	})
	sendMessageGetsErrorFrame(t, h, "Endpoint request timed out")
	close(release)
	select {
	case <-finished:
	case <-time.After(guard):
		t.Fatal("integration did not run on")
	}
}

func TestMessage_FunctionErrorGetsInternalServerErrorFrame(t *testing.T) {
	h := start(t, Config{}, func(_ context.Context, c call) ([]byte, error) {
		if c.function == messageFn {
			return nil, errors.New("function crashed")
		}
		return []byte(`{"statusCode":200}`), nil
	})
	sendMessageGetsErrorFrame(t, h, "Internal server error")
}

func TestMessage_MessagesOfOneConnectionRunConcurrently(t *testing.T) {
	secondStarted := make(chan struct{})
	h := start(t, Config{}, func(_ context.Context, c call) ([]byte, error) {
		switch c.event.Body {
		case "first":
			select {
			case <-secondStarted:
			case <-time.After(guard):
				return nil, errors.New("second message never invoked while the first ran")
			}
		case "second":
			close(secondStarted)
		}
		return []byte(`{"statusCode":200}`), nil
	})
	c, _ := h.dial("", nil)
	ctx := ctxGuard(t)
	for _, m := range []string{"first", "second"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	h.next(defaultFn)
	h.next(defaultFn)
	// A function error would have produced an "Internal server error" frame
	// before the shutdown's close frame.
	ended := make(chan error, 1)
	go func() {
		_, b, err := c.Read(ctx)
		if err == nil {
			err = fmt.Errorf("unexpected frame %s", b)
		} else if websocket.CloseStatus(err) == websocket.StatusGoingAway {
			err = nil
		}
		ended <- err
	}()
	h.shutdown()
	if err := <-ended; err != nil {
		t.Error(err)
	}
}

func TestMessage_MockRoutesAnswerFromTheirRouteResponseWithoutAFunction(t *testing.T) {
	h := start(t, Config{Mocks: map[string]string{"ping": `{"type":"pong"}`, "quiet": ""}}, nil)
	c, _ := h.dial("", nil)
	ctx := ctxGuard(t)
	for _, body := range []string{`{"action":"ping"}`, `{"action":"quiet"}`, `{"action":"ping","extra":[1,2]}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the two pings; the quiet mock sends nothing back
		if typ, data := read(t, c); typ != websocket.MessageText || string(data) != `{"type":"pong"}` {
			t.Fatalf("got %v %q, want the pong frame", typ, data)
		}
	}
	h.noMore(messageFn)
	h.noMore(defaultFn)
	// A route key the mocks do not have still goes to its function.
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"sendMessage","message":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if ev := h.next(messageFn).event; ev.RequestContext.RouteKey != "sendMessage" {
		t.Errorf("route %q", ev.RequestContext.RouteKey)
	}
}
