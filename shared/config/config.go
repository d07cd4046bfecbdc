// Package config is ragchat's one configuration loader: every function reads
// its environment through Load, and nothing else calls os.Getenv.
package config

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Tables are the physical table names the template passes in the *_TABLE
// variables. It has store.Tables's fields, so that boot converts one into
// the other, without the loader depending on the store and its SDK.
type Tables struct {
	Users         string // USERS_TABLE
	Rooms         string // ROOMS_TABLE
	Connections   string // CONNECTIONS_TABLE
	Messages      string // MESSAGES_TABLE
	LoginAttempts string // LOGIN_ATTEMPTS_TABLE
	Limits        string // LIMITS_TABLE
}

// fields pairs each field of t with the variable that names it.
func (t *Tables) fields() []struct {
	variable string
	name     *string
} {
	return []struct {
		variable string
		name     *string
	}{
		{"USERS_TABLE", &t.Users},
		{"ROOMS_TABLE", &t.Rooms},
		{"CONNECTIONS_TABLE", &t.Connections},
		{"MESSAGES_TABLE", &t.Messages},
		{"LOGIN_ATTEMPTS_TABLE", &t.LoginAttempts},
		{"LIMITS_TABLE", &t.Limits},
	}
}

// TablesFrom reads the table names through lookup, which maps a variable
// (USERS_TABLE, ...) to its value: os.Getenv for a function, the
// template's Globals for the local stack and the tests.
func TablesFrom(lookup func(variable string) string) Tables {
	var t Tables
	for _, f := range t.fields() {
		*f.name = lookup(f.variable)
	}
	return t
}

// Missing returns the variables whose table t has no name for.
func (t Tables) Missing() []string {
	var out []string
	for _, f := range t.fields() {
		if *f.name == "" {
			out = append(out, f.variable)
		}
	}
	return out
}

// Config is the environment of a ragchat function.
type Config struct {
	Tables Tables

	TokenSecretARN string // TOKEN_SECRET_ARN: Secrets Manager secret (deployed)
	TokenSecret    string // TOKEN_SECRET: the secret itself (local)

	RAGAuthSecretARN string        // RAG_AUTH_SECRET_ARN: Secrets Manager secret of the RAG service's bearer (deployed, optional)
	RAGAuthToken     string        // RAG_AUTH_TOKEN: that bearer itself (local, optional)
	TokenTTL         time.Duration // TOKEN_TTL, default 12h

	RAGURL               string        // RAG_URL, base URL of the RAG service
	RAGSysInfo           string        // RAG_SYS_INFO, default DEFAULT_RAG
	RAGConnectTimeout    time.Duration // RAG_CONNECT_TIMEOUT, default 3s
	RAGFirstEventTimeout time.Duration // RAG_FIRST_EVENT_TIMEOUT, default 15s
	RAGIdleTimeout       time.Duration // RAG_IDLE_TIMEOUT (gap between events), default 10s
	DeadlineMargin       time.Duration // DEADLINE_MARGIN before the Lambda deadline, default 2s

	CallbackURL      string        // CALLBACK_URL, @connections endpoint override
	MinFrameInterval time.Duration // MIN_FRAME_INTERVAL, default 50ms
	PostTimeout      time.Duration // POST_TIMEOUT, bound of one PostToConnection attempt, default 3s
	FunctionTimeout  time.Duration // FUNCTION_TIMEOUT, the function's Timeout as the template sets it; 0 = unknown

	LogLevel slog.Level // LOG_LEVEL, default INFO

	Limits Limits // the abuse limits

	// MetricsNamespace is METRICS_NAMESPACE, the CloudWatch namespace of
	// the functions' metrics (the template sets ragchat/<stack name>);
	// "" means shared/metrics' default.
	MetricsNamespace string
}

// Load reads the configuration from the environment. It fails on values
// that are present but malformed; requirements that only some functions
// have (a RAG URL, a token secret) are checked by those functions.
func Load() (Config, error) {
	c := Config{
		Tables:           TablesFrom(os.Getenv),
		TokenSecretARN:   os.Getenv("TOKEN_SECRET_ARN"),
		RAGAuthSecretARN: os.Getenv("RAG_AUTH_SECRET_ARN"),
		RAGAuthToken:     os.Getenv("RAG_AUTH_TOKEN"),
		TokenSecret:      os.Getenv("TOKEN_SECRET"),
		RAGURL:           strings.TrimRight(os.Getenv("RAG_URL"), "/"),
		RAGSysInfo:       envOr("RAG_SYS_INFO", "DEFAULT_RAG"),
		CallbackURL:      strings.TrimRight(os.Getenv("CALLBACK_URL"), "/"),

		MetricsNamespace: os.Getenv("METRICS_NAMESPACE"),
	}
	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"TOKEN_TTL", &c.TokenTTL, 12 * time.Hour},
		{"RAG_CONNECT_TIMEOUT", &c.RAGConnectTimeout, 3 * time.Second},
		{"RAG_FIRST_EVENT_TIMEOUT", &c.RAGFirstEventTimeout, 15 * time.Second},
		{"RAG_IDLE_TIMEOUT", &c.RAGIdleTimeout, 10 * time.Second},
		{"DEADLINE_MARGIN", &c.DeadlineMargin, 2 * time.Second},
		{"MIN_FRAME_INTERVAL", &c.MinFrameInterval, 50 * time.Millisecond},
		{"POST_TIMEOUT", &c.PostTimeout, 3 * time.Second},
		{"FUNCTION_TIMEOUT", &c.FunctionTimeout, 0},
	}
	for _, d := range durations {
		v, err := duration(d.name, d.def)
		if err != nil {
			return Config{}, err
		}
		*d.dst = v
	}
	var err error
	if c.Limits, err = loadLimits(); err != nil {
		return Config{}, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(envOr("LOG_LEVEL", "INFO"))); err != nil {
		return Config{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	return c, nil
}

// Logger returns a JSON logger at the configured level, writing to stderr
// (which Lambda ships to CloudWatch). It is also installed as slog's default.
// Each line carries "level" (DEBUG, INFO, WARN, ERROR) and an RFC 3339
// "timestamp": the keys Lambda's log-level filter reads from functions
// on OS-only runtimes.
func (c Config) Logger() *slog.Logger {
	l := slog.New(NewLogHandler(os.Stderr, c.LogLevel))
	slog.SetDefault(l)
	return l
}

// NewLogHandler is the JSON handler of Logger, writing to w.
func NewLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdaKeys})
}

// lambdaKeys renames slog's "time" to "timestamp", the name Lambda's
// log-level filter documents, in RFC 3339 with milliseconds, UTC.
func lambdaKeys(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.String("timestamp", a.Value.Time().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	return a
}

// AWS loads the SDK configuration: region, credentials and endpoint
// overrides (AWS_ENDPOINT_URL_DYNAMODB, ...) come from the SDK's own
// environment variables.
func AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// duration parses a Go duration ("50ms") or a bare number of milliseconds.
func duration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	if ms, err := strconv.Atoi(v); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration (\"50ms\", \"3s\" or milliseconds)", name, v)
	}
	return d, nil
}
