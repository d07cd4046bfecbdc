package wsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"
)

// guard bounds every wait of a test; it only catches deadlocks.
const guard = 10 * time.Second

// call is one recorded invocation.
type call struct {
	function string
	raw      []byte
	event    events.APIGatewayWebsocketProxyRequest
}

// handlerFunc answers an invocation in place of a function.
type handlerFunc func(ctx context.Context, c call) ([]byte, error)

// fakeInvoker records every invocation per function and answers through a
// handler (by default {"statusCode":200}).
type fakeInvoker struct {
	handle handlerFunc

	mu    sync.Mutex
	calls map[string]chan call
}

func (f *fakeInvoker) ch(function string) chan call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]chan call{}
	}
	c, ok := f.calls[function]
	if !ok {
		c = make(chan call, 1000)
		f.calls[function] = c
	}
	return c
}

func (f *fakeInvoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	c := call{function: function, raw: payload}
	if err := json.Unmarshal(payload, &c.event); err != nil {
		return nil, err
	}
	f.ch(function) <- c
	if f.handle != nil {
		return f.handle(ctx, c)
	}
	return []byte(`{"statusCode":200}`), nil
}

// Function names of the test routes.
const (
	connectFn    = "ConnectFunction"
	disconnectFn = "DisconnectFunction"
	messageFn    = "MessageFunction"
	defaultFn    = "DefaultFunction"
)

func testRoutes() map[string]string {
	return map[string]string{
		RouteConnect:    connectFn,
		RouteDisconnect: disconnectFn,
		"sendMessage":   messageFn,
		RouteDefault:    defaultFn,
	}
}

type harness struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
	inv *fakeInvoker
}

// start serves cfg (stage "prod" and the test routes unless set) with a fake
// invoker answering through handle (nil = 200). Cleanup shuts it down.
func start(t *testing.T, cfg Config, handle handlerFunc) *harness {
	t.Helper()
	if cfg.Stage == "" {
		cfg.Stage = "prod"
	}
	if cfg.Routes == nil {
		cfg.Routes = testRoutes()
	}
	inv := &fakeInvoker{handle: handle}
	srv, err := New(cfg, inv, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv)
	h := &harness{t: t, srv: srv, ts: ts, inv: inv}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
	})
	return h
}

func (h *harness) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/prod"
	if query != "" {
		u += "?" + query
	}
	return u
}

// dial connects and returns the socket and its $connect event.
func (h *harness) dial(query string, opts *websocket.DialOptions) (*websocket.Conn, events.APIGatewayWebsocketProxyRequest) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, h.wsURL(query), opts)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { _ = c.CloseNow() })
	c.SetReadLimit(1 << 20)
	if _, ok := h.srv.cfg.Routes[RouteConnect]; !ok {
		return c, events.APIGatewayWebsocketProxyRequest{}
	}
	return c, h.next(connectFn).event
}

// next waits for the next invocation of function.
func (h *harness) next(function string) call {
	h.t.Helper()
	select {
	case c := <-h.inv.ch(function):
		return c
	case <-time.After(guard):
		h.t.Fatalf("no invocation of %s", function)
		return call{}
	}
}

// noMore fails if function has invocations not yet taken by next.
func (h *harness) noMore(function string) {
	h.t.Helper()
	if n := len(h.inv.ch(function)); n != 0 {
		h.t.Errorf("%s: %d unexpected invocations", function, n)
	}
}

// shutdown ends the server now, so that everything it started has finished.
func (h *harness) shutdown() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.t.Fatalf("Shutdown: %v", err)
	}
}

// sdk is an unchanged apigatewaymanagementapi client for this stage, without
// retries.
func (h *harness) sdk() *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint:     aws.String(h.ts.URL + "/prod"),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		RetryMaxAttempts: 1,
	})
}

// read returns the next frame from the client socket.
func read(t *testing.T, c *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, b
}

// expectClose reads until the socket closes and checks the close status.
func expectClose(t *testing.T, c *websocket.Conn, code websocket.StatusCode, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("socket ended without close frame: %v", err)
		}
		if ce.Code != code || ce.Reason != reason {
			t.Fatalf("close = %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
		}
		return
	}
}

func ctxGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}
