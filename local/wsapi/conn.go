package wsapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// closeCause is the status code and reason of a socket's end, sent to the
// client when the server closes and reported in $disconnect.
type closeCause struct {
	code   websocket.StatusCode
	reason string
}

// The causes API Gateway reports; the phrasing is API Gateway's.
var (
	// causeGoingAway: idle timeout, maximum duration, shutdown.
	causeGoingAway = closeCause{websocket.StatusGoingAway, "Going away"}
	// causeDeleted: DELETE @connections/{id}.
	causeDeleted = closeCause{websocket.StatusNormalClosure, "Connection Closed Normally"}
	// causeTooBig: a frame or message over the limits.
	causeTooBig = closeCause{websocket.StatusMessageTooBig, "Message too big"}
	// causeInvalidText: a text message that is not UTF-8 (RFC 6455 8.1
	// fails the connection with 1007; the message reaches no function).
	causeInvalidText = closeCause{websocket.StatusInvalidFramePayloadData, "Invalid UTF-8 in text message"}
	// causeNoStatus: a client close frame without a status code.
	causeNoStatus = closeCause{websocket.StatusNoStatusRcvd, "Client-side close frame status not set"}
	// causeAbnormal: the TCP connection ended without a close frame.
	causeAbnormal = closeCause{websocket.StatusAbnormalClosure, ""}
)

// conn is one accepted socket. Its run goroutine is the only reader and the
// only deliverer of its $disconnect.
type conn struct {
	s           *Server
	id          string
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	domainName  string

	// ws is set before ready closes, and stays nil if the upgrade failed.
	ws    *websocket.Conn
	ready chan struct{}
	// closed closes when a server-side close handshake (terminate) ended.
	closed chan struct{}

	// lastActive is the time since connectedAt of the last client frame or
	// @connections POST, read with the monotonic clock.
	lastActive atomic.Int64

	mu    sync.Mutex
	cause *closeCause // set by the first server-side close
}

func (s *Server) newConn(r *http.Request) *conn {
	domain := s.cfg.DomainName
	if domain == "" {
		domain = r.Host
	}
	return &conn{
		s:           s,
		id:          newID(),
		connectedAt: time.Now(),
		sourceIP:    remoteIP(r),
		userAgent:   r.UserAgent(),
		domainName:  domain,
		ready:       make(chan struct{}),
		closed:      make(chan struct{}),
	}
}

// socket waits for the upgrade to finish and returns the socket, nil if the
// upgrade failed.
func (c *conn) socket() *websocket.Conn {
	<-c.ready
	return c.ws
}

// onFrame sees every client frame header before the frame is read: any frame
// is activity, a data frame over MaxFrameBytes closes the socket with 1009.
func (c *conn) onFrame(opcode byte, length int64) {
	c.touch()
	const opBinary = 2 // data opcodes: continuation 0, text 1, binary 2
	if opcode <= opBinary && length > int64(c.s.cfg.MaxFrameBytes) {
		c.terminate(causeTooBig)
	}
}

func (c *conn) touch() {
	c.lastActive.Store(int64(time.Since(c.connectedAt)))
}

func (c *conn) lastActiveAt() time.Time {
	return c.connectedAt.Add(time.Duration(c.lastActive.Load()))
}

// terminate closes the socket from the server side with cause, once: the
// connection is gone for @connections at once, the close handshake runs in
// the background and run delivers $disconnect with cause.
func (c *conn) terminate(cause closeCause) {
	c.mu.Lock()
	first := c.cause == nil
	if first {
		c.cause = &cause
	}
	c.mu.Unlock()
	if !first {
		return
	}
	c.s.unregister(c)
	go func() {
		defer close(c.closed)
		if ws := c.socket(); ws != nil {
			_ = ws.Close(cause.code, cause.reason) // run observes the outcome
		}
	}()
}

func (c *conn) terminated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause != nil
}

// run reads messages until the socket ends, then delivers $disconnect.
func (c *conn) run() {
	defer c.s.work.Done()
	stop := make(chan struct{})
	go c.watch(stop)
	err := c.readLoop()
	close(stop)

	c.mu.Lock()
	byServer := c.cause != nil
	if !byServer {
		cause := clientCause(err)
		c.cause = &cause
	}
	cause := *c.cause
	c.mu.Unlock()

	if byServer {
		<-c.closed // lets the close frame reach the client
	} else {
		c.s.unregister(c)
		_ = c.ws.CloseNow()
	}
	c.s.deliverDisconnect(c, cause)
}

// clientCause maps the read error of a socket the client ended.
func clientCause(err error) closeCause {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return causeAbnormal
	}
	if ce.Code == websocket.StatusNoStatusRcvd {
		return causeNoStatus
	}
	return closeCause{ce.Code, ce.Reason}
}

// readLoop dispatches each client message and returns the error that ended
// reading (nil when the server closed the socket).
func (c *conn) readLoop() error {
	limit := int64(c.s.cfg.MaxMessageBytes)
	for {
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return err
		}
		switch {
		case int64(len(data)) > limit:
			c.terminate(causeTooBig)
		case typ == websocket.MessageText && !utf8.Valid(data):
			c.terminate(causeInvalidText)
		}
		if c.terminated() {
			return nil
		}
		c.s.dispatch(c, data, typ == websocket.MessageBinary)
	}
}

// watch closes the socket when it has been idle for IdleTimeout or open for
// MaxDuration.
func (c *conn) watch(stop <-chan struct{}) {
	idle, maxAge := c.s.cfg.IdleTimeout, c.s.cfg.MaxDuration
	t := time.NewTimer(min(idle, maxAge))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			age := time.Since(c.connectedAt)
			idleAt := time.Duration(c.lastActive.Load()) + idle
			if age >= maxAge || age >= idleAt {
				c.terminate(causeGoingAway)
				return
			}
			t.Reset(min(idleAt, maxAge) - age)
		}
	}
}

// send writes one frame to the client within SendTimeout.
func (c *conn) send(ctx context.Context, typ websocket.MessageType, data []byte) error {
	ws := c.socket()
	if ws == nil {
		return errors.New("send: websocket upgrade failed")
	}
	ctx, cancel := context.WithTimeout(ctx, c.s.cfg.SendTimeout)
	defer cancel()
	return ws.Write(ctx, typ, data)
}

// sendGatewayFrame sends a frame of API Gateway's own; a failure means the
// socket is ending, which run handles.
func (c *conn) sendGatewayFrame(message, requestID string) {
	if err := c.send(context.Background(), websocket.MessageText, gatewayFrame(message, c.id, requestID)); err != nil {
		c.s.log.Debug("gateway frame not sent", "connectionId", c.id, "err", err)
	}
}

// dispatch routes one message and invokes its integration asynchronously:
// messages of one connection are neither serialized nor ordered.
func (s *Server) dispatch(c *conn, body []byte, binary bool) {
	requestID := newID()
	key := s.selected(body) // the body is parsed once, for both lookups
	if reply, ok := s.mock(key); ok {
		if reply != "" {
			if err := c.send(s.baseCtx, websocket.MessageText, []byte(reply)); err != nil {
				s.log.Debug("send route response", "connectionId", c.id, "err", err)
			}
		}
		return
	}
	routeKey, fn, ok := s.route(key)
	if !ok {
		c.sendGatewayFrame("Forbidden", requestID)
		return
	}
	payload, err := s.messageEvent(c, routeKey, requestID, body, binary, time.Now())
	if err != nil {
		s.log.Error("build message event", "connectionId", c.id, "err", err)
		c.sendGatewayFrame("Internal server error", requestID)
		return
	}
	s.log.Debug("websocket message", "connectionId", c.id, "routeKey", routeKey, "bytes", len(body))
	s.work.Add(1) // the connection holds work, so this Add never starts from zero
	go s.invokeMessage(c, fn, requestID, payload)
}

// invokeMessage runs a message integration. Its response is ignored (no
// route responses are configured). A function error gets API Gateway's
// "Internal server error" frame; an integration still running after
// IntegrationTimeout gets the "Endpoint request timed out" frame and runs on.
func (s *Server) invokeMessage(c *conn, fn, requestID string, payload []byte) {
	defer s.work.Done()
	done := make(chan error, 1)
	go func() {
		_, err := s.inv.Invoke(s.baseCtx, fn, payload)
		done <- err
	}()
	timer := time.NewTimer(s.cfg.IntegrationTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil && s.baseCtx.Err() == nil {
			s.log.Warn("message integration failed", "connectionId", c.id, "function", fn, "err", err)
			c.sendGatewayFrame("Internal server error", requestID)
		}
	case <-timer.C:
		s.log.Warn("message integration timed out", "connectionId", c.id, "function", fn)
		c.sendGatewayFrame("Endpoint request timed out", requestID)
		<-done
	}
}

// deliverDisconnect invokes $disconnect for c, if the route exists. It is
// called exactly once per accepted connection.
func (s *Server) deliverDisconnect(c *conn, cause closeCause) {
	s.log.Info("websocket disconnected", "connectionId", c.id, "code", int(cause.code), "reason", cause.reason)
	fn, ok := s.cfg.Routes[RouteDisconnect]
	if !ok {
		return
	}
	payload, err := s.disconnectEvent(c, cause, newID(), time.Now())
	if err != nil {
		s.log.Error("build $disconnect event", "connectionId", c.id, "err", err)
		return
	}
	if _, err := s.inv.Invoke(s.baseCtx, fn, payload); err != nil {
		s.log.Warn("$disconnect integration failed", "connectionId", c.id, "function", fn, "err", err)
	}
}
