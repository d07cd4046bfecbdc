// Package boot is the cold start every ragchat function shares: the
// configuration, the JSON logger, the AWS SDK configuration and the store,
// and the start of the Lambda handler built over them (Start, StartWith).
// A function whose initialisation fails logs why and exits; Lambda reports
// the init error and starts a new environment for the next request.
package boot

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/store"
)

// DynamoDB requests are tried up to DynamoDBAttempts times, waiting at most
// DynamoDBMaxBackoff between tries: a burst of throttling of a few seconds
// (ProvisionedThroughputExceeded, or on-demand tables scaling) is absorbed
// instead of costing a question or its stored answer. The SDK's default is
// 3 retries with up to 20 s between them. Each try is bounded by
// DynamoDBAttemptTimeout (connecting, sending and reading the whole
// response): the SDK's HTTP client has no bound of its own, so a request
// on a connection that hangs (a half-open one kept alive across a frozen
// execution environment) would wait for the Lambda's deadline; bounded,
// it is tried again. DynamoDB answers in milliseconds; 3 s is far above
// any answer and well inside every function's timeout.
const (
	DynamoDBAttempts       = 8
	DynamoDBMaxBackoff     = time.Second
	DynamoDBAttemptTimeout = 3 * time.Second
)

// Env is what a function has once its cold start is done.
type Env struct {
	Config config.Config
	Log    *slog.Logger
	AWS    aws.Config
	Store  *store.Store
	// Metrics writes the function's EMF metrics to standard output.
	Metrics *metrics.Emitter
}

// Init loads the environment of a function, or exits the process.
func Init(ctx context.Context) Env {
	cfg, err := config.Load()
	env := Env{Config: cfg, Log: cfg.Logger(), Metrics: metrics.New(os.Stdout, cfg.MetricsNamespace)}
	env.Must("load config", err)
	env.AWS, err = config.AWS(ctx)
	env.Must("load AWS config", err)
	env.Store = store.New(dynamodb.NewFromConfig(env.AWS, DynamoDBRetries), store.Tables(cfg.Tables))
	return env
}

// DynamoDBRetries sets the retryer of a DynamoDB client: DynamoDBAttempts
// tries, backoff capped at DynamoDBMaxBackoff, each try bounded by
// DynamoDBAttemptTimeout. Its waits end with the request's context, so a
// caller's deadline bounds them.
func DynamoDBRetries(o *dynamodb.Options) { dynamoDBRetries(o, DynamoDBAttemptTimeout) }

func dynamoDBRetries(o *dynamodb.Options, attemptTimeout time.Duration) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = DynamoDBAttempts
		so.MaxBackoff = DynamoDBMaxBackoff
	})
	o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(attemptTimeout)
}

// Start serves a function on Lambda and never returns: it runs the cold
// start (Init), then build, which returns the function's handler (what
// lambda.Start takes: Handler.Handle); build may load more with Load and
// stop the start with Env.Must.
func Start(build func(ctx context.Context, env Env) any) {
	ctx := context.Background()
	lambda.Start(build(ctx, Init(ctx)))
}

// StartWith is Start for a function whose handler needs one value loaded
// at cold start, most often the token issuer (secret.Tokens): it loads it
// as Load does (a failure is logged as what) and builds the handler from
// the Env and the value.
func StartWith[T any](what string, load Loader[T], build func(env Env, v T) any) {
	Start(func(ctx context.Context, env Env) any {
		return build(env, Load(ctx, env, what, load))
	})
}

// Loader loads a value at cold start from the configuration and the AWS
// SDK configuration (secret.Tokens, secret.RAGBearer).
type Loader[T any] func(context.Context, config.Config, aws.Config) (T, error)

// LoadTimeout bounds a cold-start loader (Load): its Secrets Manager calls
// answer in milliseconds, and a hung one fails the start with its reason
// logged well inside Lambda's 10 s init phase instead of using it up.
const LoadTimeout = 5 * time.Second

// Load runs a cold-start loader that reads the configuration and the AWS SDK
// configuration (secret.Tokens, secret.RAGBearer) and returns its value,
// within LoadTimeout; when the loader fails it logs the failure as what and
// exits, as Must does. The loader is passed in, so boot links only the
// clients a function uses.
func Load[T any](ctx context.Context, e Env, what string, load Loader[T]) T {
	ctx, cancel := context.WithTimeout(ctx, LoadTimeout)
	defer cancel()
	v, err := load(ctx, e.Config, e.AWS)
	e.Must(what, err)
	return v
}

// Require stops the start as Must does, logged as "load config", when a
// setting the function cannot run without (value, of the environment
// variable name) is empty.
func (e Env) Require(name, value string) {
	if value == "" {
		e.Must("load config", fmt.Errorf("%s is not set", name))
	}
}

// Must logs err as the failure of what and exits when err is not nil.
func (e Env) Must(what string, err error) {
	if err != nil {
		e.Log.Error(what, "err", err)
		os.Exit(1)
	}
}
