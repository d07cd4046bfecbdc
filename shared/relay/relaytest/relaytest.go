// Package relaytest is a test double of API Gateway's @connections API on
// loopback, answering as API Gateway does, for tests that drive the real
// apigatewaymanagementapi client (relay and message function tests,
// benchmarks). What a connection received is checked against the client
// rules with internal/wsclient.
package relaytest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/ragchat/ragchat/shared/relay"
)

// Stage is the stage name the endpoint serves under.
const Stage = "prod"

// Reply is a scripted error answer to one post.
type Reply struct {
	Status    int    // HTTP status
	ErrorType string // X-Amzn-ErrorType header, which the SDK maps to a typed error
}

// Replies as API Gateway sends them.
var (
	Gone            = Reply{http.StatusGone, "GoneException"}
	Forbidden       = Reply{http.StatusForbidden, "ForbiddenException"}
	AccessDenied    = Reply{http.StatusForbidden, "AccessDeniedException"}
	Forbidden403    = Reply{http.StatusForbidden, ""} // a 403 with no error type
	LimitExceeded   = Reply{http.StatusTooManyRequests, "LimitExceededException"}
	TooManyRequests = Reply{http.StatusTooManyRequests, "TooManyRequestsException"}
	InternalError   = Reply{http.StatusInternalServerError, "InternalServerErrorException"}
	Unavailable     = Reply{http.StatusServiceUnavailable, "ServiceUnavailableException"}
)

// Endpoint is a fake @connections endpoint. Connections must be opened
// before posts to them succeed: unknown and closed ids get 410
// GoneException with body {"message":null}, as on AWS.
type Endpoint struct {
	// URL is the endpoint to give the client: http://127.0.0.1:port/prod.
	URL string

	srv     *httptest.Server
	mu      sync.Mutex
	conns   map[string]*conn
	latency time.Duration
	hook    func(id string, frame []byte)
	fault   Reply     // answered to every post before faultTo
	faultTo time.Time // end of the fault
}

type conn struct {
	open        bool
	frames      [][]byte
	posts       int
	script      []Reply
	inFlight    int
	maxInFlight int
}

// NewEndpoint starts an endpoint on 127.0.0.1, closed when t ends.
func NewEndpoint(t testing.TB) *Endpoint {
	e := &Endpoint{conns: map[string]*conn{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	e.URL = e.srv.URL + "/" + Stage
	return e
}

// Client returns the real SDK client for this endpoint, built by
// relay.NewClient with dummy static credentials in us-east-1.
func (e *Endpoint) Client() *apigatewaymanagementapi.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	}
	return relay.NewClient(cfg, e.URL)
}

// Open registers live connections.
func (e *Endpoint) Open(ids ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		e.conn(id).open = true
	}
}

// Close makes later posts to id answer 410, as after the client left.
func (e *Endpoint) Close(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.conn(id).open = false
}

// Script makes the next posts to id answer the given replies, in order,
// before posts succeed again.
func (e *Endpoint) Script(id string, replies ...Reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.conn(id)
	c.script = append(c.script, replies...)
}

// FailUntil makes every post answer reply until the time until.
func (e *Endpoint) FailUntil(reply Reply, until time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fault, e.faultTo = reply, until
}

// SetLatency delays every answer by d.
func (e *Endpoint) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency = d
}

// SetHook installs f, called for every post before it is answered (after
// the latency); f may block to hold the post in flight.
func (e *Endpoint) SetHook(f func(id string, frame []byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hook = f
}

// Frames returns the frames accepted for id, in arrival order.
func (e *Endpoint) Frames(id string) [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.conn(id).frames...)
}

// Posts is the number of posts to id, failed ones included.
func (e *Endpoint) Posts(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conn(id).posts
}

// MaxInFlight is the largest number of concurrent posts to id seen.
func (e *Endpoint) MaxInFlight(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conn(id).maxInFlight
}

func (e *Endpoint) conn(id string) *conn {
	c := e.conns[id]
	if c == nil {
		c = &conn{}
		e.conns[id] = c
	}
	return c
}

func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/" + Stage + "/@connections/"
	path := r.URL.EscapedPath()
	if r.Method != http.MethodPost || !strings.HasPrefix(path, prefix) {
		writeError(w, Reply{http.StatusNotFound, "NotFoundException"}, `{"message":"Not Found"}`)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, Forbidden, `{"message":"Missing Authentication Token"}`)
		return
	}
	id, err := url.PathUnescape(strings.TrimPrefix(path, prefix))
	if err != nil {
		writeError(w, Reply{http.StatusBadRequest, "BadRequestException"}, `{"message":"Invalid connection id"}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}

	e.mu.Lock()
	c := e.conn(id)
	c.posts++
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	latency, hook := e.latency, e.hook
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		c.inFlight--
		e.mu.Unlock()
	}()

	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if hook != nil {
		hook(id, body)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case time.Now().Before(e.faultTo):
		writeError(w, e.fault, fmt.Sprintf(`{"message":%q}`, http.StatusText(e.fault.Status)))
	case len(c.script) > 0:
		reply := c.script[0]
		c.script = c.script[1:]
		writeError(w, reply, fmt.Sprintf(`{"message":%q}`, http.StatusText(reply.Status)))
	case !c.open:
		writeError(w, Gone, `{"message":null}`)
	case len(body) > 128*1024:
		writeError(w, Reply{http.StatusRequestEntityTooLarge, "PayloadTooLargeException"}, `{"message":"Message too long"}`)
	default:
		c.frames = append(c.frames, body)
		w.WriteHeader(http.StatusOK)
	}
}

func writeError(w http.ResponseWriter, r Reply, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", r.ErrorType)
	w.WriteHeader(r.Status)
	io.WriteString(w, body)
}
