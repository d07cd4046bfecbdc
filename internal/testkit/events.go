package testkit

// The handler-test kit: the callers a function's handler test signs
// tokens for, and the events API Gateway sends the functions, one builder
// per event kind (HTTPEvent for the HTTP API, ConnectEvent and
// DisconnectEvent for the WebSocket API's), and the sample events of
// events/ (ReadEvent, SampleHTTP).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/samtemplate"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// Callers of the handler tests besides Hong2; all of them are in Users.
var (
	// Kim is another customer of hong2's company apt001.
	Kim = auth.Identity{UserID: "kim", CompanyID: "apt001", Role: store.UserRoleCustomer, Name: "김"}
	// Hong2Apt002 and Hong2Book001 are customers of other companies with
	// hong2's user id.
	Hong2Apt002  = auth.Identity{UserID: "hong2", CompanyID: "apt002", Role: store.UserRoleCustomer, Name: "고객-275b"}
	Hong2Book001 = auth.Identity{UserID: "hong2", CompanyID: "book001", Role: store.UserRoleCustomer, Name: "다른 회사"}
	// BookAgent is agent9 of book001: an agent of another company than
	// apt001's.
	BookAgent = auth.Identity{UserID: "agent9", CompanyID: "book001", Role: store.UserRoleAgent, Name: "상담원-09"}
)

// Agent is agent i (0..9) of apt001: user agent<i>, named 상담원-0<i>.
func Agent(i int) auth.Identity {
	return auth.Identity{UserID: fmt.Sprintf("agent%d", i), CompanyID: "apt001", Role: store.UserRoleAgent, Name: fmt.Sprintf("상담원-%02d", i)}
}

// Bearer is the Authorization header of a request by id: a token for id
// minted now (Mint).
func Bearer(t testing.TB, id auth.Identity) string {
	t.Helper()
	return "Bearer " + Mint(t, id, time.Now())
}

// HTTPEvent is an HTTP API request (payload format 2.0) to a function, as
// API Gateway sends it: Request builds the event.
type HTTPEvent struct {
	Route         string            // a route key of template.yaml: "POST /api/agent/rooms/{roomId}/claim"
	Params        map[string]string // the path parameters
	Query         string            // the raw query string
	Authorization string            // the Authorization header; none when empty
}

// Request is the event: route key Route, the route's path with each
// {name} of Params replaced by its value, the path parameters Params, the
// raw query Query, and headers (never nil) holding Authorization when set.
func (h HTTPEvent) Request() events.APIGatewayV2HTTPRequest {
	_, path, _ := strings.Cut(h.Route, " ")
	for name, v := range h.Params {
		path = strings.ReplaceAll(path, "{"+name+"}", v)
	}
	r := events.APIGatewayV2HTTPRequest{RouteKey: h.Route, RawPath: path, RawQueryString: h.Query, PathParameters: h.Params, Headers: map[string]string{}}
	if h.Authorization != "" {
		r.Headers["authorization"] = h.Authorization
	}
	return r
}

// Pages walks a paged read: read gets the query of each page and returns
// the page's next cursor. The first query is query; each next one appends
// &<param>=<the cursor before>. The walk ends at a page without a next
// cursor (nil), or after most pages.
func Pages(query, param string, most int, read func(query string) (next *string)) {
	q := query
	for range most {
		next := read(q)
		if next == nil {
			return
		}
		q = query + "&" + param + "=" + *next
	}
}

// ReadEvent decodes the sample event events/<name> into dst strictly: a
// field the aws-lambda-go type does not know fails the test, so the sample
// stays shaped like API Gateway's. events/ is the one beside
// template.yaml (samtemplate.FindRoot).
func ReadEvent(t testing.TB, name string, dst any) {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
}

// SampleHTTP runs handle on the sample HTTP API event events/<name>
// (ReadEvent) twice. As shipped, the sample's token is signed with a key
// nobody has and long expired: handle must refuse it with 401, or the
// test fails. SampleHTTP returns the response to the sample with a token
// of id minted now instead.
func SampleHTTP(t testing.TB, handle func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error), name string, id auth.Identity) events.APIGatewayV2HTTPResponse {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	ReadEvent(t, name, &req)
	if resp := Call(t, handle, req); resp.StatusCode != 401 {
		t.Fatalf("%s as shipped (a long-expired token of another key): %d %s, want 401", name, resp.StatusCode, resp.Body)
	}
	req.Headers["authorization"] = Bearer(t, id)
	return Call(t, handle, req)
}

// ConnectEvent is the WebSocket API's $connect event (stage prod) of
// connection conn, with query the URL's query parameters: each value list
// as API Gateway puts it in both maps (the single-value map holds the
// last value).
func ConnectEvent(conn string, query map[string][]string) events.APIGatewayWebsocketProxyRequest {
	r := events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: "$connect", EventType: "CONNECT", ConnectionID: conn, Stage: "prod",
		},
	}
	if len(query) > 0 {
		r.QueryStringParameters = map[string]string{}
		r.MultiValueQueryStringParameters = query
		for k, v := range query {
			r.QueryStringParameters[k] = v[len(v)-1]
		}
	}
	return r
}

// DisconnectEvent is the WebSocket API's $disconnect event of connection
// conn, whose client went away (close code 1001).
func DisconnectEvent(conn string) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{RequestContext: events.APIGatewayWebsocketProxyRequestContext{
		RouteKey: "$disconnect", EventType: "DISCONNECT", ConnectionID: conn, DisconnectStatusCode: 1001,
	}}
}
