package relay

import (
	"errors"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// Endpoint is the @connections endpoint of a websocket API: callbackURL
// when set (CALLBACK_URL), otherwise https://{domainName}/{stage} from the
// event's request context.
func Endpoint(callbackURL, domainName, stage string) string {
	if callbackURL != "" {
		return callbackURL
	}
	return "https://" + domainName + "/" + stage
}

// NewClient returns an @connections client for endpoint. The SDK's own
// retries are off: the relay retries with its own backoff, keeping one post
// in flight per connection, each attempt under its own timeout.
func NewClient(cfg aws.Config, endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
	})
}

type errClass int

const (
	errFatal     errClass = iota // give the connection up
	errGone                      // 410: delete the connection and skip it
	errForbidden                 // 403: skip the connection for this answer, keep it
	errThrottled                 // 429: nothing delivered; rebuild the frame and retry
	errRetry                     // 5xx, transport error, attempt timeout: retry the same frame
)

// classify sorts a PostToConnection error. Only a 410 says a connection is
// gone; a 403 (ForbiddenException, AccessDeniedException or untyped) is a
// configuration fault. Errors with no HTTP response (reset, refused, EOF,
// the attempt's own timeout) are transport errors: the post may have
// reached API Gateway.
func classify(err error) errClass {
	var gone *types.GoneException
	var forbidden *types.ForbiddenException
	var limit *types.LimitExceededException
	switch {
	case errors.As(err, &gone):
		return errGone
	case errors.As(err, &forbidden):
		return errForbidden
	case errors.As(err, &limit):
		return errThrottled
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() != 0 {
		switch code := status.HTTPStatusCode(); {
		case code == http.StatusGone:
			return errGone
		case code == http.StatusForbidden:
			return errForbidden
		case code == http.StatusTooManyRequests:
			return errThrottled
		case code >= 500:
			return errRetry
		}
		return errFatal
	}
	return errRetry
}

// Clients makes one @connections client per endpoint and reuses it across
// invocations. It is safe for concurrent use.
type Clients struct {
	cfg     aws.Config
	mu      sync.Mutex
	clients map[string]Poster
}

// NewClients returns a Clients building its clients from cfg with NewClient.
func NewClients(cfg aws.Config) *Clients {
	return &Clients{cfg: cfg, clients: map[string]Poster{}}
}

// For returns the client of endpoint.
func (c *Clients) For(endpoint string) Poster {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.clients[endpoint]
	if !ok {
		p = NewClient(c.cfg, endpoint)
		c.clients[endpoint] = p
	}
	return p
}
