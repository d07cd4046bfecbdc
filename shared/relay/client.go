package relay

import (
	"context"
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
// retries are off: the relay retries with its own bounded backoff, keeping
// one post in flight per connection.
func NewClient(cfg aws.Config, endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
	})
}

type errClass int

const (
	errFatal errClass = iota // give the connection up
	errGone                  // delete the connection and skip it
	errRetry                 // retry with backoff
)

// classify sorts a PostToConnection error.
func classify(err error) errClass {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errFatal
	}
	var gone *types.GoneException
	var forbidden *types.ForbiddenException
	if errors.As(err, &gone) || errors.As(err, &forbidden) {
		return errGone
	}
	var limit *types.LimitExceededException
	if errors.As(err, &limit) {
		return errRetry
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		switch code := status.HTTPStatusCode(); {
		case code == http.StatusGone || code == http.StatusForbidden:
			return errGone
		case code == http.StatusTooManyRequests || code >= 500:
			return errRetry
		}
		return errFatal
	}
	// No HTTP response: a transport error (reset, refused, EOF).
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
