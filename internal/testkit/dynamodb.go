package testkit

// DynamoDB for tests: a real DynamoDB-compatible server over HTTP with the
// template's tables, and, on the embedded server, fault injection and
// request counts.
//
// The server is the one AWS_ENDPOINT_URL_DYNAMODB names when it is set (CI
// also runs the store tests against dynalite that way); otherwise the
// embedded local/dynamo server, started once per test binary on a free
// loopback port. Every DynamoDB call creates all tables of template.yaml
// under a fresh unique prefix, so tests are independent and may run in
// parallel.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/internal/samtemplate"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

// EndpointVariable is the SDK's own variable that selects an external
// DynamoDB endpoint.
const EndpointVariable = "AWS_ENDPOINT_URL_DYNAMODB"

// Region is the region of the clients DynamoDB returns.
const Region = "us-east-1"

// setupTimeout bounds table creation; it only guards against a hung server.
const setupTimeout = time.Minute

var (
	embeddedOnce sync.Once
	embedded     *dynamo.Server
	embeddedErr  error

	loadTemplate sync.Once
	template     *samtemplate.Template
	templateErr  error
)

// Endpoint returns the DynamoDB endpoint tests use: AWS_ENDPOINT_URL_DYNAMODB
// when set, otherwise the embedded server's URL (starting it on first use).
func Endpoint(t testing.TB) string {
	t.Helper()
	if url := os.Getenv(EndpointVariable); url != "" {
		return url
	}
	embeddedOnce.Do(func() {
		embedded, embeddedErr = dynamo.Start("127.0.0.1:0")
	})
	if embeddedErr != nil {
		t.Fatalf("testkit: start embedded DynamoDB: %v", embeddedErr)
	}
	return embedded.URL()
}

// Client returns a DynamoDB client for the endpoint with static dummy
// credentials, region us-east-1 and the SDK's default retries (four
// attempts for DynamoDB), changed by optFns (e.g. NoRetries).
func Client(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	return dynamo.NewClient(Endpoint(t), Region, aws.Credentials{AccessKeyID: "testkit", SecretAccessKey: "testkit"}, optFns...)
}

// NoRetries is a client option that makes every failed request surface at
// once, e.g. an injected throttling error, without the SDK's backoff.
func NoRetries(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// DynamoDB creates all tables of the project's template.yaml under a fresh
// unique prefix and returns a client (as Client, with optFns) and their
// names. The tables are deleted when the test ends.
func DynamoDB(t testing.TB, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, store.Tables) {
	t.Helper()
	db := Client(t, optFns...)
	tpl, err := templateOnce()
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	tt, err := tpl.Tables()
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	prefix := uniquePrefix(t)
	name := func(logicalID string) string { return prefix + logicalID }
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	t.Cleanup(func() {
		for _, table := range tt {
			if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name(table.LogicalID))}); err != nil {
				t.Logf("testkit: delete table %s: %v", name(table.LogicalID), err)
			}
		}
	})
	if err := dynamo.CreateTables(ctx, db, tt, name); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	tables := config.TablesFrom(tpl.TableNames(name))
	if missing := tables.Missing(); len(missing) > 0 {
		t.Fatalf("testkit: template.yaml's Globals name no table for %v", missing)
	}
	return db, store.Tables(tables)
}

// Store returns a store over tables fresh for this test, created as
// DynamoDB creates them (with optFns), and the tables' names.
func Store(t testing.TB, optFns ...func(*dynamodb.Options)) (*store.Store, store.Tables) {
	t.Helper()
	db, tables := DynamoDB(t, optFns...)
	return store.New(db, tables), tables
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// uniquePrefix is the test's name (made safe for table names and cut short)
// and random hex, unique across tests, runs and test binaries sharing one
// endpoint.
func uniquePrefix(t testing.TB) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	label := unsafeName.ReplaceAllString(t.Name(), "_")
	if len(label) > 60 {
		label = label[:60]
	}
	return label + "-" + hex.EncodeToString(b) + "-"
}

// templateOnce loads the project's template.yaml (next to go.mod) once.
func templateOnce() (*samtemplate.Template, error) {
	loadTemplate.Do(func() {
		root, err := samtemplate.FindRoot()
		if err != nil {
			templateErr = err
			return
		}
		template, templateErr = samtemplate.Load(filepath.Join(root, "template.yaml"))
	})
	return template, templateErr
}

// IsEmbedded reports whether tests use the embedded server (no
// AWS_ENDPOINT_URL_DYNAMODB), where Throttle and NewCounter work.
func IsEmbedded() bool { return os.Getenv(EndpointVariable) == "" }

// Embedded returns the embedded server, or skips the test when
// AWS_ENDPOINT_URL_DYNAMODB selects another server (faults and counts exist
// only on the embedded one).
func Embedded(t testing.TB) *dynamo.Server {
	t.Helper()
	if !IsEmbedded() {
		t.Skipf("testkit: needs the embedded DynamoDB; %s selects another server", EndpointVariable)
	}
	Endpoint(t)
	return embedded
}

// Throttle makes the next n requests of operation on table fail with
// ProvisionedThroughputExceededException (n < 0: all of them) until the
// test ends; see dynamo.Handler.Throttle. The SDK retries this error (four
// attempts in all by default, with backoff; see NoRetries). Skips the test
// on an external server.
func Throttle(t testing.TB, operation, table string, n int) *dynamo.Fault {
	t.Helper()
	f := Embedded(t).Throttle(operation, table, n)
	t.Cleanup(f.Remove)
	return f
}

// LeaveUnprocessed makes the next n BatchGetItem requests on table read
// nothing and hand every key back as unprocessed (n < 0: all of them)
// until the test ends; see dynamo.Handler.LeaveUnprocessed. Skips the
// test on an external server.
func LeaveUnprocessed(t testing.TB, table string, n int) *dynamo.Fault {
	t.Helper()
	f := Embedded(t).LeaveUnprocessed(table, n)
	t.Cleanup(f.Remove)
	return f
}

// Counter counts the embedded server's requests on one test's tables.
type Counter struct {
	srv    *dynamo.Server
	tables map[string]bool
	start  dynamo.Counts
}

// NewCounter starts counting requests naming any of tables (other tests'
// traffic is left out). Skips the test on an external server.
func NewCounter(t testing.TB, tables store.Tables) *Counter {
	t.Helper()
	srv := Embedded(t)
	c := &Counter{srv: srv, tables: map[string]bool{
		tables.Users: true, tables.Rooms: true, tables.Connections: true, tables.Messages: true, tables.LoginAttempts: true, tables.Limits: true,
	}}
	c.Reset()
	return c
}

// Reset starts counting afresh.
func (c *Counter) Reset() { c.start = c.srv.Counts() }

// Counts returns the requests on the tables since NewCounter or Reset, per
// operation and table; Scan requests appear under Operation "Scan".
func (c *Counter) Counts() dynamo.Counts {
	return c.srv.Counts().Sub(c.start).Filter(func(call dynamo.Call) bool { return c.tables[call.Table] })
}
