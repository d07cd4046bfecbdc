package wsapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"
)

func postInput(id string, data []byte) *apigatewaymanagementapi.PostToConnectionInput {
	return &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: data}
}

func getInput(id string) *apigatewaymanagementapi.GetConnectionInput {
	return &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}
}

func deleteInput(id string) *apigatewaymanagementapi.DeleteConnectionInput {
	return &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}
}

func TestConnections_PostGetDeleteThroughSDK(t *testing.T) {
	h := start(t, Config{}, nil)
	hdr := http.Header{"User-Agent": {"ragchat-browser"}}
	c, ev := h.dial("", &websocket.DialOptions{HTTPHeader: hdr})
	id := ev.RequestContext.ConnectionID
	api := h.sdk()
	ctx := ctxGuard(t)

	frames := []struct {
		data []byte
		typ  websocket.MessageType
	}{
		{[]byte(`{"type":"delta","delta":"책 재료"}`), websocket.MessageText},
		{[]byte{0xff, 0xfe, 0x00}, websocket.MessageBinary},
	}
	for _, f := range frames {
		if _, err := api.PostToConnection(ctx, postInput(id, f.data)); err != nil {
			t.Fatalf("PostToConnection: %v", err)
		}
		typ, got := read(t, c)
		if typ != f.typ || !bytes.Equal(got, f.data) {
			t.Errorf("client got %v %q, want %v %q", typ, got, f.typ, f.data)
		}
	}

	info, err := api.GetConnection(ctx, getInput(id))
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if info.ConnectedAt.UnixMilli() != ev.RequestContext.ConnectedAt || info.LastActiveAt.Before(*info.ConnectedAt) {
		t.Errorf("connectedAt %v lastActiveAt %v, $connect said %d", info.ConnectedAt, info.LastActiveAt, ev.RequestContext.ConnectedAt)
	}
	if aws.ToString(info.Identity.SourceIp) != "127.0.0.1" || aws.ToString(info.Identity.UserAgent) != "ragchat-browser" {
		t.Errorf("identity = %+v", info.Identity)
	}

	if _, err := api.DeleteConnection(ctx, deleteInput(id)); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	expectClose(t, c, websocket.StatusNormalClosure, "Connection Closed Normally")

	var gone *types.GoneException
	if _, err := api.PostToConnection(ctx, postInput(id, []byte("late"))); !errors.As(err, &gone) {
		t.Errorf("post after delete: %v, want *types.GoneException", err)
	}
	if _, err := api.GetConnection(ctx, getInput(id)); !errors.As(err, &gone) {
		t.Errorf("get after delete: %v, want *types.GoneException", err)
	}
	if _, err := api.DeleteConnection(ctx, deleteInput(id)); !errors.As(err, &gone) {
		t.Errorf("delete after delete: %v, want *types.GoneException", err)
	}
}

func TestConnections_ClosedByClientIsGone(t *testing.T) {
	h := start(t, Config{}, nil)
	c, ev := h.dial("", nil)
	_ = c.Close(websocket.StatusNormalClosure, "")
	h.next(disconnectFn)
	var gone *types.GoneException
	_, err := h.sdk().PostToConnection(ctxGuard(t), postInput(ev.RequestContext.ConnectionID, []byte("x")))
	if !errors.As(err, &gone) {
		t.Errorf("post to closed connection: %v, want *types.GoneException", err)
	}
}

func TestConnections_UnknownIDAnswers410LikeAPIGateway(t *testing.T) {
	h := start(t, Config{}, nil)
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		req, _ := http.NewRequest(method, h.ts.URL+"/prod/@connections/QQGAoEcsoAMF09A%3D", bytes.NewReader([]byte("x")))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone || resp.Header.Get("X-Amzn-ErrorType") != "GoneException" || len(body) != 0 {
			t.Errorf("%s unknown id = %d %q %q", method, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
		}
	}
}

func TestConnections_PostOverMessageLimitIs413(t *testing.T) {
	h := start(t, Config{}, nil)
	c, ev := h.dial("", nil)
	id := ev.RequestContext.ConnectionID
	api := h.sdk()
	ctx := ctxGuard(t)

	atLimit := bytes.Repeat([]byte("x"), 128<<10)
	if _, err := api.PostToConnection(ctx, postInput(id, atLimit)); err != nil {
		t.Fatalf("post of 128 KB: %v", err)
	}
	if _, got := read(t, c); len(got) != len(atLimit) {
		t.Errorf("client got %d bytes", len(got))
	}
	var tooLarge *types.PayloadTooLargeException
	if _, err := api.PostToConnection(ctx, postInput(id, append(atLimit, 'x'))); !errors.As(err, &tooLarge) {
		t.Errorf("post over 128 KB: %v, want *types.PayloadTooLargeException", err)
	}
	if st := h.srv.Stats(); st.TooLarge != 1 || st.Delivered != 1 || st.Bytes != 128<<10 {
		t.Errorf("stats = %+v", st)
	}
}

func TestConnections_ServerPostsKeepConnectionActive(t *testing.T) {
	h := start(t, Config{}, nil)
	c, ev := h.dial("", nil)
	id := ev.RequestContext.ConnectionID
	time.Sleep(5 * time.Millisecond) // moves the clock past GetConnection's millisecond resolution
	if _, err := h.sdk().PostToConnection(ctxGuard(t), postInput(id, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	read(t, c)
	info, err := h.sdk().GetConnection(ctxGuard(t), getInput(id))
	if err != nil {
		t.Fatal(err)
	}
	if !info.LastActiveAt.After(*info.ConnectedAt) {
		t.Errorf("lastActiveAt %v not after connectedAt %v", info.LastActiveAt, info.ConnectedAt)
	}
}
