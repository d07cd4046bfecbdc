// Package wsapi emulates, for the local stack, an API Gateway WebSocket API
// (route selection, $connect / $disconnect / $default, frame and message
// limits, idle and maximum durations, the integration timeout frame) and its
// @connections management API (POST, GET, DELETE with API Gateway's status
// codes and X-Amzn-ErrorType headers), served as one http.Handler under
// /{stage}. Functions are reached only through an Invoker, by template logical
// ID. Fault injection and post counters for tests and benchmarks are exposed
// through Go methods and through /{stage}/@faults and /{stage}/@stats.
package wsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Invoker runs one invocation of a function, named by its template logical
// ID, with a JSON event as payload, and returns the function's JSON response.
// An error means the function failed (or could not be run).
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Defaults applied by New to zero fields of Config; they are API Gateway's
// own limits.
const (
	DefaultAPIID                    = "local"
	DefaultRouteSelectionExpression = "$request.body.action"
	DefaultMaxFrameBytes            = 32 << 10
	DefaultMaxMessageBytes          = 128 << 10
	DefaultIdleTimeout              = 10 * time.Minute
	DefaultMaxDuration              = 2 * time.Hour
	DefaultIntegrationTimeout       = 29 * time.Second
	DefaultSendTimeout              = 10 * time.Second
)

// Route keys API Gateway reserves.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Config describes one WebSocket API stage. Zero limits take the Default*
// values.
type Config struct {
	// Stage is the first path segment (e.g. "prod"); required.
	Stage string
	// APIID is the requestContext.apiId of every event.
	APIID string
	// DomainName is the requestContext.domainName of every event; empty
	// means the Host header of the upgrade request.
	DomainName string
	// RouteSelectionExpression selects the route key of a message:
	// "$request.body.<path>" or "${request.body.<path>}", path being dot
	// separated JSON object keys.
	RouteSelectionExpression string
	// Routes maps route keys ($connect, $disconnect, $default, custom) to
	// function logical IDs. A missing $connect accepts every handshake; a
	// missing $disconnect delivers nothing; a message that matches no route
	// and finds no $default gets API Gateway's "Forbidden" frame.
	Routes map[string]string
	// Mocks maps route keys of MOCK integrations to what the route response
	// sends the client back ("" for nothing), as
	// samtemplate.WebSocketAPI.Mocks reads them: served here, invoking no
	// function.
	Mocks map[string]string
	// MaxFrameBytes caps one client frame; a bigger one closes the socket
	// with 1009.
	MaxFrameBytes int
	// MaxMessageBytes caps one client message (all its frames) and one
	// @connections POST body (413 above it).
	MaxMessageBytes int
	// IdleTimeout closes a socket (1001 "Going away") after this long
	// without a client frame or an @connections POST to it.
	IdleTimeout time.Duration
	// MaxDuration closes a socket (1001 "Going away") this long after it
	// connected.
	MaxDuration time.Duration
	// IntegrationTimeout is how long a message's integration may run before
	// the client gets {"message": "Endpoint request timed out", ...}; the
	// function runs on. A $connect integration slower than this refuses the
	// handshake with 504.
	IntegrationTimeout time.Duration
	// SendTimeout bounds one frame write to a client.
	SendTimeout time.Duration
	// Faults is the initial fault injection for @connections POSTs.
	Faults Faults
}

// Server is the WebSocket API and @connections endpoint of one stage. It is
// an http.Handler; Shutdown ends it. All methods are safe for concurrent use.
type Server struct {
	cfg    Config
	inv    Invoker
	log    *slog.Logger
	sel    selector
	faults *faultInjector
	stats  *statsRecorder

	// baseCtx is the context of every invocation; Shutdown cancels it last.
	baseCtx context.Context
	cancel  context.CancelFunc
	// work counts handshakes, open connections (until their $disconnect
	// returned) and message invocations.
	work sync.WaitGroup

	mu      sync.Mutex
	conns   map[string]*conn
	closing bool
}

// New validates cfg, applies defaults and returns a Server that invokes
// functions through inv and logs to log (nil discards).
func New(cfg Config, inv Invoker, log *slog.Logger) (*Server, error) {
	if cfg.Stage == "" || strings.ContainsAny(cfg.Stage, "/@") {
		return nil, fmt.Errorf("wsapi: invalid stage %q", cfg.Stage)
	}
	if inv == nil {
		return nil, errors.New("wsapi: nil invoker")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.APIID == "" {
		cfg.APIID = DefaultAPIID
	}
	if cfg.RouteSelectionExpression == "" {
		cfg.RouteSelectionExpression = DefaultRouteSelectionExpression
	}
	sel, err := parseSelection(cfg.RouteSelectionExpression)
	if err != nil {
		return nil, fmt.Errorf("wsapi: %w", err)
	}
	setDefault(&cfg.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&cfg.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.MaxDuration, DefaultMaxDuration)
	setDefault(&cfg.IntegrationTimeout, DefaultIntegrationTimeout)
	setDefault(&cfg.SendTimeout, DefaultSendTimeout)
	routes := make(map[string]string, len(cfg.Routes))
	for k, v := range cfg.Routes {
		if v == "" {
			return nil, fmt.Errorf("wsapi: route %q has no function", k)
		}
		routes[k] = v
	}
	cfg.Routes = routes
	faults, err := newFaultInjector(cfg.Faults)
	if err != nil {
		return nil, fmt.Errorf("wsapi: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:     cfg,
		inv:     inv,
		log:     log,
		sel:     sel,
		faults:  faults,
		stats:   newStatsRecorder(),
		baseCtx: ctx,
		cancel:  cancel,
		conns:   make(map[string]*conn),
	}, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// ServeHTTP serves GET /{stage} (WebSocket upgrade), /{stage}/@connections/{id}
// (POST, GET, DELETE), /{stage}/@faults (GET, PUT, DELETE) and
// /{stage}/@stats (GET, DELETE).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "BadRequestException", "Invalid path")
			return
		}
		segs[i] = u
	}
	if segs[0] != s.cfg.Stage {
		writeAPIError(w, http.StatusNotFound, "", "Not Found")
		return
	}
	rest := segs[1:]
	switch {
	case len(rest) == 0 || (len(rest) == 1 && rest[0] == ""):
		s.serveUpgrade(w, r)
	case len(rest) == 2 && rest[0] == "@connections" && rest[1] != "":
		s.serveConnection(w, r, rest[1])
	case len(rest) == 1 && rest[0] == "@faults":
		s.serveFaults(w, r)
	case len(rest) == 1 && rest[0] == "@stats":
		s.serveStats(w, r)
	default:
		writeAPIError(w, http.StatusNotFound, "", "Not Found")
	}
}

// Shutdown stops accepting handshakes, closes every open socket with 1001
// "Going away", and waits until each has had its $disconnect delivered and
// every in-flight invocation has returned, or until ctx ends. Invocations
// still running then are canceled. It does not close listeners.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	open := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		c.terminate(causeGoingAway)
	}
	done := make(chan struct{})
	go func() {
		s.work.Wait()
		close(done)
	}()
	defer s.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wsapi shutdown: %w", ctx.Err())
	}
}

// beginHandshake counts a handshake as work unless the server is shutting
// down.
func (s *Server) beginHandshake() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.work.Add(1)
	return true
}

// register makes c reachable through @connections and counts it as work
// until its $disconnect is delivered; false when shutting down.
func (s *Server) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c.id] = c
	s.work.Add(1)
	return true
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
}

func (s *Server) lookup(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}
