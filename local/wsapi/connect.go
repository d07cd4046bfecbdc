package wsapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// serveUpgrade runs $connect before answering the upgrade: a 2xx integration
// response accepts the socket, any other status refuses the handshake with
// that status, headers and body; a function error refuses it with 500 and an
// integration slower than IntegrationTimeout with 504.
func (s *Server) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeAPIError(w, http.StatusMethodNotAllowed, "", "Method Not Allowed")
		return
	}
	if !isUpgrade(r) {
		writeAPIError(w, http.StatusUpgradeRequired, "", "Upgrade Required")
		return
	}
	if !s.beginHandshake() {
		writeAPIError(w, http.StatusServiceUnavailable, "", "Service Unavailable")
		return
	}
	defer s.work.Done()

	c := s.newConn(r)
	var subprotocol string
	if fn, ok := s.cfg.Routes[RouteConnect]; ok {
		resp, ok := s.invokeConnect(w, r, c, fn)
		if !ok {
			return
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			s.log.Info("websocket handshake refused", "connectionId", c.id, "status", resp.StatusCode)
			writeIntegrationResponse(w, resp)
			return
		}
		subprotocol = headerValue(resp, "Sec-WebSocket-Protocol")
	}

	// Registered before the 101 goes out, so that a client that saw it can be
	// posted to at once; senders wait for the socket.
	if !s.register(c) {
		writeAPIError(w, http.StatusServiceUnavailable, "", "Service Unavailable")
		s.deliverDisconnect(c, causeGoingAway)
		return
	}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true} // API Gateway checks no Origin
	if subprotocol != "" {
		opts.Subprotocols = []string{subprotocol}
	}
	ws, err := websocket.Accept(&hijackTap{ResponseWriter: w, scan: &frameScanner{onFrame: c.onFrame}}, r, opts)
	if err != nil {
		s.log.Warn("websocket accept failed", "connectionId", c.id, "err", err)
		s.unregister(c)
		close(c.ready)
		s.deliverDisconnect(c, causeAbnormal)
		s.work.Done()
		return
	}
	ws.SetReadLimit(-1) // limits are enforced by the connection itself
	c.ws = ws
	close(c.ready)
	s.log.Info("websocket connected", "connectionId", c.id)
	go c.run()
}

// invokeConnect runs the $connect integration and returns its response; on
// failure it writes the refusal itself and returns ok false.
func (s *Server) invokeConnect(w http.ResponseWriter, r *http.Request, c *conn, fn string) (resp events.APIGatewayProxyResponse, ok bool) {
	requestID := newID()
	payload, err := s.connectEvent(c, r, requestID, time.Now())
	if err != nil {
		s.log.Error("build $connect event", "err", err)
		writeAPIError(w, http.StatusInternalServerError, "", "Internal server error")
		return resp, false
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	s.work.Add(1) // the handshake holds work, so this Add never starts from zero
	go func() {
		defer s.work.Done()
		out, err := s.inv.Invoke(s.baseCtx, fn, payload)
		done <- result{out, err}
	}()
	timer := time.NewTimer(s.cfg.IntegrationTimeout)
	defer timer.Stop()
	select {
	case res := <-done:
		if res.err != nil {
			s.log.Warn("$connect integration failed", "connectionId", c.id, "function", fn, "err", res.err)
			writeAPIError(w, http.StatusInternalServerError, "", "Internal server error")
			return resp, false
		}
		if err := json.Unmarshal(res.out, &resp); err != nil || resp.StatusCode < 200 || resp.StatusCode > 599 {
			s.log.Warn("$connect integration answered no valid status code", "connectionId", c.id, "function", fn)
			writeAPIError(w, http.StatusInternalServerError, "", "Internal server error")
			return resp, false
		}
		return resp, true
	case <-timer.C:
		s.log.Warn("$connect integration timed out", "connectionId", c.id, "function", fn)
		writeAPIError(w, http.StatusGatewayTimeout, "", "Endpoint request timed out")
		return resp, false
	}
}

// isUpgrade reports whether r asks for a WebSocket upgrade.
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket") &&
		r.Header.Get("Sec-WebSocket-Key") != ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// headerValue reads a header of an integration response case-insensitively.
func headerValue(resp events.APIGatewayProxyResponse, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// hopHeaders are integration response headers that describe the HTTP
// exchange itself and are never copied to the client.
var hopHeaders = map[string]bool{
	"Connection": true, "Content-Length": true, "Transfer-Encoding": true, "Upgrade": true, "Keep-Alive": true,
}

// writeIntegrationResponse answers the refused handshake with the status,
// headers and body of the $connect integration response.
func writeIntegrationResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeAPIError(w, http.StatusInternalServerError, "", "Internal server error")
			return
		}
		body = b
	}
	h := w.Header()
	for k, v := range resp.Headers {
		if !hopHeaders[http.CanonicalHeaderKey(k)] {
			h.Set(k, v)
		}
	}
	for k, vs := range resp.MultiValueHeaders {
		if hopHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body) // the client may be gone; nothing to do about it
}
