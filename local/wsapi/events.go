package wsapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// requestTimeLayout is API Gateway's requestContext.requestTime format.
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// newID returns an identifier shaped like API Gateway's connection, request
// and message IDs: 11 random bytes in URL-safe base64, 16 characters ending
// in '='.
func newID() string {
	var b [11]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return base64.URLEncoding.EncodeToString(b[:])
}

// requestContext fills the fields API Gateway sends in every WebSocket event.
func (s *Server) requestContext(c *conn, routeKey, eventType, requestID string, now time.Time) events.APIGatewayWebsocketProxyRequestContext {
	return events.APIGatewayWebsocketProxyRequestContext{
		RouteKey:          routeKey,
		EventType:         eventType,
		ExtendedRequestID: requestID,
		RequestTime:       now.UTC().Format(requestTimeLayout),
		MessageDirection:  "IN",
		Stage:             s.cfg.Stage,
		ConnectedAt:       c.connectedAt.UnixMilli(),
		RequestTimeEpoch:  now.UnixMilli(),
		Identity:          events.APIGatewayRequestIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
		RequestID:         requestID,
		DomainName:        c.domainName,
		ConnectionID:      c.id,
		APIID:             s.cfg.APIID,
	}
}

// connectEvent builds the $connect event from the upgrade request: its
// headers (with Host and the X-Forwarded-* headers API Gateway adds) and
// query parameters, single-valued maps holding the last value.
func (s *Server) connectEvent(c *conn, r *http.Request, requestID string, now time.Time) ([]byte, error) {
	multiHeaders := make(map[string][]string, len(r.Header)+4)
	for k, v := range r.Header {
		multiHeaders[k] = append([]string(nil), v...)
	}
	multiHeaders["Host"] = []string{r.Host}
	multiHeaders["X-Forwarded-For"] = append(multiHeaders["X-Forwarded-For"], c.sourceIP)
	multiHeaders["X-Forwarded-Port"] = []string{localPort(r)}
	multiHeaders["X-Forwarded-Proto"] = []string{"http"}
	ev := events.APIGatewayWebsocketProxyRequest{
		Headers:           lastValues(multiHeaders),
		MultiValueHeaders: multiHeaders,
		RequestContext:    s.requestContext(c, RouteConnect, "CONNECT", requestID, now),
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = lastValues(q)
		ev.MultiValueQueryStringParameters = q
	}
	return marshalEvent(ev)
}

// messageEvent builds a MESSAGE event; binary frames are base64 encoded.
func (s *Server) messageEvent(c *conn, routeKey, requestID string, body []byte, binary bool, now time.Time) ([]byte, error) {
	rc := s.requestContext(c, routeKey, "MESSAGE", requestID, now)
	rc.MessageID = newID()
	ev := events.APIGatewayWebsocketProxyRequest{RequestContext: rc, Body: string(body)}
	if binary {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return marshalEvent(ev)
}

// disconnectEvent builds the $disconnect event. Like API Gateway's, it
// carries only the Host, x-api-key, X-Forwarded-For and x-restapi headers,
// the latter three empty.
func (s *Server) disconnectEvent(c *conn, cause closeCause, requestID string, now time.Time) ([]byte, error) {
	multi := map[string][]string{
		"Host":            {c.domainName},
		"x-api-key":       {""},
		"X-Forwarded-For": {""},
		"x-restapi":       {""},
	}
	rc := s.requestContext(c, RouteDisconnect, "DISCONNECT", requestID, now)
	rc.DisconnectStatusCode = int64(cause.code)
	reason := cause.reason
	rc.DisconnectReason = &reason
	return marshalEvent(events.APIGatewayWebsocketProxyRequest{
		Headers:           lastValues(multi),
		MultiValueHeaders: multi,
		RequestContext:    rc,
	})
}

func marshalEvent(ev events.APIGatewayWebsocketProxyRequest) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("marshal %s event: %w", ev.RequestContext.RouteKey, err)
	}
	return b, nil
}

func lastValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) > 0 {
			out[k] = v[len(v)-1]
		}
	}
	return out
}

// gatewayFrame is a frame API Gateway itself sends to a client, spaced as
// API Gateway spaces it.
func gatewayFrame(message, connectionID, requestID string) []byte {
	q := func(s string) string {
		b, _ := json.Marshal(s) // marshaling a string cannot fail
		return string(b)
	}
	return fmt.Appendf(nil, `{"message": %s, "connectionId":%s, "requestId":%s}`, q(message), q(connectionID), q(requestID))
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func localPort(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return port
	}
	return "80"
}
