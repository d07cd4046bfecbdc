// Package testkit is the one test kit: a DynamoDB-compatible server with the
// template's tables, a store over fresh ones, fault injection and request
// counts (dynamodb.go); the fixtures tests share: the seed trace's user and
// token, a signing secret and tokens minted with it, passwords hashed at
// bcrypt's cheapest cost, a store over fresh tables with the log a handler
// writes and the items a test puts in it, an output sink safe for
// concurrent use, and readers for JSON bodies; HTTP requests that fail the
// test when they fail (http.go); the handler-test kit (events.go): the
// callers, one builder per API Gateway event kind and the sample events.
// It is for tests only.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// Secret is the token signing secret the functions run with in tests (at
// least 32 bytes). Tests check it never reaches a log.
const Secret = "test-secret-test-secret-test-secret!"

// otherSecret is a valid signing secret that is not Secret.
const otherSecret = "another-secret-another-secret-0123"

// TraceToken is the token of the seed trace's login answer: base64 JSON,
// not a JWT. Every function must refuse it.
const TraceToken = "eyJ1c2VySWQiOiJob25nMiIsInVzZXJOYW1lIjoi6rOg6rCdLTI3NWIiLCJyb2xlIjoiQ1VTVE9NRVIiLCJlbWFpbCI6ImhvbmcyQGV4YW1wbGUuY29tIiwidG9rZW4iOm51bGwsInJvb21JZCI6bnVsbCwiY29tcGFueUlkIjoiYXB0MDAxIn0="

// Hong2 is the seed trace's customer: user hong2 of company apt001.
var Hong2 = auth.Identity{UserID: "hong2", CompanyID: "apt001", Role: "CUSTOMER", Name: "고객-275b"}

// Tokens returns the token issuer the functions run with in tests: Secret,
// tokens valid for an hour.
func Tokens() *auth.Tokens {
	return auth.NewTokens([]byte(Secret), time.Hour)
}

// Passwords hashes at bcrypt's minimum cost, for tests that hash or check
// passwords: at the production cost bcrypt under -race makes them take
// minutes. auth's own tests pin the production cost and its dummy hash.
var Passwords = sync.OnceValue(func() *auth.Passwords {
	p, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return p
})

// Mint returns a token for id issued at at, signed with Secret and valid
// for an hour; it fails the test if the token cannot be issued.
func Mint(t testing.TB, id auth.Identity, at time.Time) string {
	t.Helper()
	return issue(t, Tokens(), id, at)
}

// MintForeign returns a well-formed token for id issued at at and valid for
// an hour, but signed with a secret other than Secret.
func MintForeign(t testing.TB, id auth.Identity, at time.Time) string {
	t.Helper()
	return issue(t, auth.NewTokens([]byte(otherSecret), time.Hour), id, at)
}

func issue(t testing.TB, tokens *auth.Tokens, id auth.Identity, at time.Time) string {
	t.Helper()
	s, err := tokens.Issue(id, at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// MintUnsigned returns an unsigned token (alg "none") naming id's user and
// company and expiring an hour after at.
func MintUnsigned(t testing.TB, id auth.Identity, at time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"sub": id.UserID, "companyId": id.CompanyID, "exp": at.Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SyncBuffer is an io.Writer safe for concurrent use, such as a log sink
// shared by parallel subtests. The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Env is what a function's handler test runs against: a store over fresh
// tables of the template and the log the handler writes.
type Env struct {
	Store  *store.Store
	Tables store.Tables
	Logs   *SyncBuffer  // everything Log wrote
	Log    *slog.Logger // JSON at debug level into Logs
}

// NewEnv returns an Env over tables of DynamoDB, fresh for this
// test.
func NewEnv(t testing.TB) Env {
	t.Helper()
	st, tables := Store(t)
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	SeedUsers(t, st, Users...)
	return Env{Store: st, Tables: tables, Logs: logs, Log: log}
}

// Put writes each of items with write, a store method (CreateRoom,
// PutMessage, PutConnection, PutUser): the fixtures of a test. A failure
// fails the test.
func Put[T any](t testing.TB, write func(context.Context, T) error, items ...T) {
	t.Helper()
	for _, it := range items {
		if err := write(context.Background(), it); err != nil {
			t.Fatalf("store %+v: %v", it, err)
		}
	}
}

// Call runs a Lambda handler on req and returns its response; a handler
// error fails the test.
func Call[Req, Resp any](t testing.TB, handle func(context.Context, Req) (Resp, error), req Req) Resp {
	t.Helper()
	resp, err := handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	return resp
}

// KeysInOrder returns the top-level keys of the JSON object body in the
// order they stand; it fails the test if body is not an object.
func KeysInOrder(t testing.TB, body string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("body %q is not an object", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// ErrorBody decodes a function's JSON error body; it fails the test if body
// is not JSON of that shape.
func ErrorBody(t testing.TB, body string) apigw.ErrorBody {
	t.Helper()
	var b apigw.ErrorBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return b
}

// Users are the identities handler tests mint tokens for: the trace's
// customer Hong2, Kim, hong2 of two other companies, BookAgent and
// agents agent0..agent9 of apt001 (Agent). SeedUsers stores them, so that the routes
// that check a token's version against its user (apigw.Current) accept
// their tokens.
var Users = func() []auth.Identity {
	ids := []auth.Identity{Hong2, Kim, Hong2Apt002, Hong2Book001, BookAgent}
	for i := range 10 {
		ids = append(ids, Agent(i))
	}
	return ids
}()

// SeedUsers stores a Users item (token version 0, a hash nobody logs in
// with) for each of ids.
func SeedUsers(t testing.TB, s *store.Store, ids ...auth.Identity) {
	t.Helper()
	for _, id := range ids {
		if err := s.PutUser(context.Background(), store.User{
			CompanyID: id.CompanyID, UserID: id.UserID, UserName: id.Name, Role: id.Role, PasswordHash: "$2a$10$seeded",
		}); err != nil {
			t.Fatalf("seed user %s/%s: %v", id.CompanyID, id.UserID, err)
		}
	}
}
