package wsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// checkDisconnect waits for the $disconnect of the connection opened by
// connectEv and checks its fields.
func checkDisconnect(t *testing.T, h *harness, connectEv events.APIGatewayWebsocketProxyRequest, code int64, reason string) {
	t.Helper()
	d := h.next(disconnectFn)
	rc, crc := d.event.RequestContext, connectEv.RequestContext
	if rc.RouteKey != "$disconnect" || rc.EventType != "DISCONNECT" || rc.MessageDirection != "IN" {
		t.Errorf("disconnect context = %+v", rc)
	}
	if rc.ConnectionID != crc.ConnectionID || rc.ConnectedAt != crc.ConnectedAt || rc.Identity != crc.Identity {
		t.Errorf("disconnect of %q (connected %d), want %q (%d)", rc.ConnectionID, rc.ConnectedAt, crc.ConnectionID, crc.ConnectedAt)
	}
	if rc.DisconnectStatusCode != code || rc.DisconnectReason == nil || *rc.DisconnectReason != reason {
		t.Errorf("disconnect status = %d %v, want %d %q", rc.DisconnectStatusCode, rc.DisconnectReason, code, reason)
	}
	if d.event.Headers["Host"] != crc.DomainName || d.event.Body != "" || d.event.IsBase64Encoded {
		t.Errorf("disconnect event = %s", d.raw)
	}
	if !bytes.Contains(d.raw, []byte(`"disconnectReason":`)) {
		t.Errorf("disconnectReason missing from %s", d.raw)
	}
}

func TestDisconnect_ClientCloseIsReportedOnce(t *testing.T) {
	tests := []struct {
		name       string
		close      func(c *websocket.Conn)
		wantCode   int64
		wantReason string
	}{
		{"close 1000 with reason", func(c *websocket.Conn) { _ = c.Close(websocket.StatusNormalClosure, "bye") }, 1000, "bye"},
		{"close 1001 without reason", func(c *websocket.Conn) { _ = c.Close(websocket.StatusGoingAway, "") }, 1001, ""},
		{"close 4000 application code", func(c *websocket.Conn) { _ = c.Close(4000, "app") }, 4000, "app"},
		{"close frame without status", func(c *websocket.Conn) { _ = c.Close(websocket.StatusNoStatusRcvd, "") }, 1005, "Client-side close frame status not set"},
		{"TCP closed without close frame", func(c *websocket.Conn) { _ = c.CloseNow() }, 1006, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, Config{}, nil)
			c, connectEv := h.dial("", nil)
			tt.close(c)
			checkDisconnect(t, h, connectEv, tt.wantCode, tt.wantReason)
			h.shutdown()
			h.noMore(disconnectFn)
		})
	}
}

func TestDisconnect_ServerSideCloses(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		act        func(t *testing.T, h *harness, id string)
		wantCode   websocket.StatusCode
		wantReason string
	}{
		{
			name:     "idle timeout",
			cfg:      Config{IdleTimeout: 100 * time.Millisecond},
			act:      func(*testing.T, *harness, string) {},
			wantCode: websocket.StatusGoingAway, wantReason: "Going away",
		},
		{
			name:     "maximum duration",
			cfg:      Config{MaxDuration: 100 * time.Millisecond},
			act:      func(*testing.T, *harness, string) {},
			wantCode: websocket.StatusGoingAway, wantReason: "Going away",
		},
		{
			name: "DELETE @connections",
			act: func(t *testing.T, h *harness, id string) {
				if _, err := h.sdk().DeleteConnection(ctxGuard(t), deleteInput(id)); err != nil {
					t.Fatalf("DeleteConnection: %v", err)
				}
			},
			wantCode: websocket.StatusNormalClosure, wantReason: "Connection Closed Normally",
		},
		{
			name: "shutdown",
			act: func(t *testing.T, h *harness, _ string) {
				go func() { _ = h.srv.Shutdown(context.Background()) }() // the harness cleanup checks Shutdown
			},
			wantCode: websocket.StatusGoingAway, wantReason: "Going away",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.cfg, nil)
			c, connectEv := h.dial("", nil)
			tt.act(t, h, connectEv.RequestContext.ConnectionID)
			expectClose(t, c, tt.wantCode, tt.wantReason)
			checkDisconnect(t, h, connectEv, int64(tt.wantCode), tt.wantReason)
			h.shutdown()
			h.noMore(disconnectFn)
		})
	}
}

func TestGetConnection_ClientMessagesMoveLastActiveAt(t *testing.T) {
	h := start(t, Config{}, nil)
	c, connectEv := h.dial("", nil)
	id := connectEv.RequestContext.ConnectionID
	before, err := h.sdk().GetConnection(ctxGuard(t), getInput(id))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // moves the clock past GetConnection's millisecond resolution
	if err := c.Write(ctxGuard(t), websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	h.next(defaultFn)
	after, err := h.sdk().GetConnection(ctxGuard(t), getInput(id))
	if err != nil {
		t.Fatal(err)
	}
	if !after.LastActiveAt.After(*before.LastActiveAt) || !after.ConnectedAt.Equal(*before.ConnectedAt) {
		t.Errorf("lastActiveAt %v -> %v, connectedAt %v -> %v", before.LastActiveAt, after.LastActiveAt, before.ConnectedAt, after.ConnectedAt)
	}
}

func TestShutdown_DeliversDisconnectForEveryOpenSocket(t *testing.T) {
	h := start(t, Config{}, nil)
	ids := map[string]bool{}
	var conns []*websocket.Conn
	for range 3 {
		c, ev := h.dial("", nil)
		conns = append(conns, c)
		ids[ev.RequestContext.ConnectionID] = true
	}
	for _, c := range conns {
		go func() { _, _, _ = c.Read(context.Background()) }() // answers the close handshake
	}
	h.shutdown()
	for range 3 {
		d := h.next(disconnectFn).event.RequestContext
		if !ids[d.ConnectionID] || d.DisconnectStatusCode != 1001 || *d.DisconnectReason != "Going away" {
			t.Errorf("disconnect %s %d %q", d.ConnectionID, d.DisconnectStatusCode, *d.DisconnectReason)
		}
		delete(ids, d.ConnectionID)
	}
	h.noMore(disconnectFn)

	_, resp, err := websocket.Dial(ctxGuard(t), h.wsURL(""), nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("dial after shutdown: %v", err)
	}
	h.noMore(connectFn)
}

func TestLimits_FramesAndMessages(t *testing.T) {
	pad := func(n int) []byte { return bytes.Repeat([]byte("a"), n) }
	tests := []struct {
		name    string
		frames  [][]byte // one message, these frames
		tooBig  bool
		wantLen int
	}{
		{name: "one frame at the frame limit", frames: [][]byte{pad(32 << 10)}, wantLen: 32 << 10},
		{name: "one frame over the frame limit", frames: [][]byte{pad(32<<10 + 1)}, tooBig: true},
		{name: "four frames at the message limit", frames: [][]byte{pad(32 << 10), pad(32 << 10), pad(32 << 10), pad(32 << 10)}, wantLen: 128 << 10},
		{name: "five frames over the message limit", frames: [][]byte{pad(32 << 10), pad(32 << 10), pad(32 << 10), pad(32 << 10), pad(1)}, tooBig: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, Config{}, nil)
			c, connectEv := h.dial("", nil)
			ctx := ctxGuard(t)
			sent := make(chan error, 1)
			go func() { // writes may block once the server stops reading
				w, err := c.Writer(ctx, websocket.MessageText)
				if err != nil {
					sent <- err
					return
				}
				for _, f := range tt.frames {
					if _, err := w.Write(f); err != nil {
						sent <- err
						return
					}
				}
				sent <- w.Close()
			}()
			if tt.tooBig {
				expectClose(t, c, websocket.StatusMessageTooBig, "Message too big")
				checkDisconnect(t, h, connectEv, 1009, "Message too big")
				h.shutdown()
				h.noMore(defaultFn)
				return
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			if got := len(h.next(defaultFn).event.Body); got != tt.wantLen {
				t.Errorf("body length = %d, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestDisconnectEvent_MatchesAPIGatewayShape(t *testing.T) {
	h := start(t, Config{}, nil)
	c, _ := h.dial("", nil)
	_ = c.Close(websocket.StatusGoingAway, "")
	raw := h.next(disconnectFn).raw
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sortedKeys(m), ","); got != "headers,isBase64Encoded,multiValueHeaders,requestContext" {
		t.Errorf("top-level keys = %s", got)
	}
	rc := m["requestContext"].(map[string]any)
	want := "apiId,connectedAt,connectionId,disconnectReason,disconnectStatusCode,domainName,eventType,extendedRequestId,identity,messageDirection,requestId,requestTime,requestTimeEpoch,routeKey,stage"
	if got := strings.Join(sortedKeys(rc), ","); got != want {
		t.Errorf("requestContext keys = %s\nwant                 %s", got, want)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}

func TestLimits_InvalidUTF8TextClosesWith1007AndReachesNoFunction(t *testing.T) {
	h := start(t, Config{}, nil)
	c, connectEv := h.dial("", nil)
	ctx := ctxGuard(t)
	if err := c.Write(ctx, websocket.MessageText, []byte("{\"action\":\"sendMessage\",\"message\":\"관리비\xff\"}")); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, websocket.StatusInvalidFramePayloadData, "Invalid UTF-8 in text message")
	checkDisconnect(t, h, connectEv, 1007, "Invalid UTF-8 in text message")
	h.shutdown()
	h.noMore(defaultFn)
}
