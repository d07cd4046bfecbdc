package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/crypto/bcrypt"

	login "github.com/ragchat/ragchat/functions/login/handler"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/local/ragdev"
	"github.com/ragchat/ragchat/local/stack"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// guard bounds every wait of these tests. It only catches hangs and
// deadlocks; nothing here asserts how fast anything is.
const guard = 90 * time.Second

// Test configuration of the shared stack: short RAG stall timeouts so that
// the stall cases end in seconds instead of the template's 15-20 s.
const (
	ragStallTimeout = "2s"
	piecePause      = 2 * time.Millisecond
)

var (
	soakFor     = flag.Duration("soak", 0, "run TestSoak for this long (e.g. 10m; 30s for a smoke run); 0 skips it")
	soakClients = flag.Int("soak.clients", 50, "number of concurrent soak clients")
	soakReport  = flag.String("soak.report", "", "write the soak's samples and totals as Markdown to this file")
)

// h is the shared harness, set up by TestMain.
var h *harness

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (builds and runs the whole stack)")
		os.Exit(0)
	}
	os.Exit(run(m))
}

// run starts the shared stack, runs the tests, then scans everything the
// stack and its functions logged for secrets and crashes.
func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	h, err = newHarness(ctx, *soakFor > 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start the stack: %v\n", err)
		if h != nil {
			h.close(false)
		}
		return 1
	}
	code := m.Run()
	if problems := h.scanOutput(); len(problems) > 0 {
		fmt.Println("--- FAIL: TestMain: the captured stack and function output")
		for _, p := range problems {
			fmt.Println("    " + p)
		}
		code = 1
	}
	h.close(code == 0)
	return code
}

// harness is the shared stack and what the tests need around it.
type harness struct {
	st      *stack.Stack
	rag     *ragFront
	out     *outputLog
	secrets *secrets
	tmp     string // build dirs and the output file

	tokenSecret string
	awsSecret   string
	ragBearer   string // the RAG service's bearer (RAG_AUTH_TOKEN): the dev RAG server refuses asks without it
	password    string // every test user's password
	hash        string // its bcrypt hash
	opts        stack.Options

	mu     sync.Mutex
	tokens map[string]string // companyId#userId -> token, cached logins
}

// newHarness starts the shared stack. soak selects the soak's settings:
// enough execution environments for 50 clients, the dev RAG's realistic
// pace, INFO logs.
func newHarness(ctx context.Context, soak bool) (*harness, error) {
	tmp, err := os.MkdirTemp("", "ragchat-e2e-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	hr := &harness{
		tmp:         tmp,
		secrets:     &secrets{},
		tokenSecret: "e2e-token-secret-" + randHex(24),
		awsSecret:   "e2e-aws-secret-" + randHex(16),
		ragBearer:   "e2e-rag-bearer-" + randHex(16),
		password:    "pw-" + randHex(12),
		tokens:      map[string]string{},
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(hr.password), auth.HashCost)
	if err != nil {
		return hr, fmt.Errorf("hash the test password: %w", err)
	}
	hr.hash = string(hash)
	hr.secrets.add("TOKEN_SECRET", hr.tokenSecret)
	hr.secrets.add("AWS secret access key", hr.awsSecret)
	hr.secrets.add("RAG bearer", hr.ragBearer)
	hr.secrets.add("test password", hr.password)
	hr.secrets.add("password hash", hr.hash)

	hr.out, err = newOutputLog(filepath.Join(tmp, "output.log"))
	if err != nil {
		return hr, err
	}
	level, pause, envs, logLevel := slog.LevelDebug, piecePause, 0, "DEBUG"
	if soak {
		level, pause, envs, logLevel = slog.LevelInfo, ragdev.DefaultPieceDelay, 2*(*soakClients)+10, "INFO"
	}
	logger := slog.New(slog.NewJSONHandler(hr.out, &slog.HandlerOptions{Level: level}))
	// Every turn of a session kept (the default keeps 6), so that a test
	// counts what the RAG service was asked in its room (the bursts ask 31).
	// Every ask must carry the bearer, so every answered question of the
	// suite shows that it reached the RAG service (and the output scan,
	// that no line holds it).
	hr.rag, err = startRAGFront(ragdev.Options{PieceDelay: pause, HistoryTurns: 100, Bearer: hr.ragBearer, Logger: logger.With("server", "ragdev")})
	if err != nil {
		return hr, err
	}
	hr.opts = stack.Options{
		BuildDir:        filepath.Join(tmp, "build"),
		RAGURL:          hr.rag.URL(),
		TokenSecret:     hr.tokenSecret,
		Credentials:     aws.Credentials{AccessKeyID: "AKIDE2ETEST", SecretAccessKey: hr.awsSecret},
		MaxEnvironments: envs,
		EnvVars: stack.EnvVars{"Parameters": {
			"RAG_FIRST_EVENT_TIMEOUT": ragStallTimeout,
			"RAG_IDLE_TIMEOUT":        ragStallTimeout,
			"LOG_LEVEL":               logLevel,
			"RAG_AUTH_TOKEN":          hr.ragBearer,
		}},
		Logger:         logger,
		FunctionOutput: hr.out,
	}
	hr.st, err = stack.Start(ctx, hr.opts)
	if err != nil {
		return hr, err
	}
	return hr, nil
}

// withStack returns a harness for another stack that shares this one's
// RAG server, output, secrets and credentials.
func (hr *harness) withStack(st *stack.Stack) *harness {
	return &harness{
		st: st, rag: hr.rag, out: hr.out, secrets: hr.secrets, tmp: hr.tmp,
		tokenSecret: hr.tokenSecret, awsSecret: hr.awsSecret, ragBearer: hr.ragBearer, password: hr.password, hash: hr.hash,
		opts: hr.opts, tokens: map[string]string{},
	}
}

// close stops the stack and, when the run passed, removes its files; a
// failed run keeps the output for reading.
func (hr *harness) close(passed bool) {
	if hr.st != nil {
		hr.st.Close()
	}
	if hr.rag != nil {
		hr.rag.close()
	}
	if hr.out != nil {
		_ = hr.out.Close()
	}
	if passed {
		_ = os.RemoveAll(hr.tmp)
		return
	}
	fmt.Printf("e2e: stack and function output kept in %s\n", filepath.Join(hr.tmp, "output.log"))
}

// ---------------------------------------------------------------------------
// Output capture and the secret scan

// outputLog is the stack's whole output (its own slog lines and every
// function's stdout and stderr), written to a file so that long runs keep
// no log in memory. It is safe for concurrent use.
type outputLog struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

func newOutputLog(path string) (*outputLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("output log: %w", err)
	}
	return &outputLog{f: f, path: path}, nil
}

// Write implements io.Writer.
func (o *outputLog) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.f.Write(p)
}

// Close closes the file.
func (o *outputLog) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.f.Close()
}

// lines calls fn with every line written so far, in order, until fn
// returns false.
func (o *outputLog) lines(fn func(n int, line string) bool) error {
	f, err := os.Open(o.path)
	if err != nil {
		return fmt.Errorf("read output log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if !fn(n, sc.Text()) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read output log: %w", err)
	}
	return nil
}

// find returns the first line holding every one of subs, "" when none does.
func (o *outputLog) find(subs ...string) string {
	found := ""
	_ = o.lines(func(_ int, line string) bool {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				return true
			}
		}
		found = line
		return false
	})
	return found
}

// waitFor waits until a line holding every one of subs has been written.
func (o *outputLog) waitFor(t testing.TB, subs ...string) string {
	t.Helper()
	var line string
	eventually(t, fmt.Sprintf("a log line with %q", subs), func() bool {
		line = o.find(subs...)
		return line != ""
	})
	return line
}

// envPrefix matches the prefix the local Lambda pool puts before every line
// of an execution environment: "[LoginFunction#2] ".
var envPrefix = regexp.MustCompile(`^\[([A-Za-z]+Function)#(\d+)\] `)

// environments returns the execution environments (e.g. "LoginFunction#2")
// that wrote a line holding every one of subs.
func (o *outputLog) environments(subs ...string) map[string]int {
	envs := map[string]int{}
	_ = o.lines(func(_ int, line string) bool {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				return true
			}
		}
		if m := envPrefix.FindStringSubmatch(line); m != nil {
			envs[m[1]+"#"+m[2]]++
		}
		return true
	})
	return envs
}

// secrets are the strings that must never appear in the output: the
// token-signing secret, the AWS secret key, passwords, password hashes and
// every token a test sent or received.
type secrets struct {
	mu     sync.Mutex
	values map[string]string // value -> label
}

func (s *secrets) add(label, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]string{}
	}
	s.values[value] = label
}

// addToken registers a token and, for a JWT, its signature alone too.
func (s *secrets) addToken(label, token string) {
	s.add(label, token)
	if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) >= 16 {
		s.add(label+" (signature)", parts[2])
	}
}

func (s *secrets) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.values))
	for v, l := range s.values {
		out[v] = l
	}
	return out
}

// crashMarkers are output fragments that mean a function crashed or was
// killed at its timeout.
var crashMarkers = []string{"Task timed out", "Runtime.ExitError", "panic: ", "goroutine 1 [running]"}

// scanOutput reads everything captured and reports every line that holds a
// secret (the secret itself is not printed) or a crash marker. It runs
// before the stack is closed, whose kills are expected.
func (hr *harness) scanOutput() []string {
	secrets := hr.secrets.snapshot()
	var problems []string
	lines, functions := 0, map[string]bool{}
	err := hr.out.lines(func(n int, line string) bool {
		lines++
		if m := envPrefix.FindStringSubmatch(line); m != nil {
			functions[m[1]] = true
		}
		for v, label := range secrets {
			if strings.Contains(line, v) {
				problems = append(problems, fmt.Sprintf("line %d holds a %s: %s", n, label, strings.ReplaceAll(line, v, "<"+label+">")))
			}
		}
		for _, c := range crashMarkers {
			if strings.Contains(line, c) {
				problems = append(problems, fmt.Sprintf("line %d: a function crashed or timed out: %s", n, line))
			}
		}
		return len(problems) < 50
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	names := make([]string, 0, len(functions))
	for f := range functions {
		names = append(names, f)
	}
	sort.Strings(names)
	fmt.Printf("e2e: scanned %d output lines (functions %s) for %d secrets and for crashes: %d problems\n",
		lines, strings.Join(names, ", "), len(secrets), len(problems))
	return problems
}

// ---------------------------------------------------------------------------
// The dev RAG server behind a front the tests can take down

// ragFront serves a dev RAG server on a loopback port that can be closed
// (new connections are refused) and opened again on the same port.
type ragFront struct {
	rag  *ragdev.Server
	addr string

	mu  sync.Mutex
	srv *http.Server
}

func startRAGFront(opts ragdev.Options) (*ragFront, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("dev RAG server: %w", err)
	}
	f := &ragFront{rag: ragdev.New(opts), addr: ln.Addr().String()}
	f.serve(ln)
	return f, nil
}

func (f *ragFront) serve(ln net.Listener) {
	f.srv = &http.Server{Handler: f.rag, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(f.srv)
}

// URL is the RAG base URL the functions use.
func (f *ragFront) URL() string { return "http://" + f.addr }

// down closes the port and every connection to it: connecting is refused.
func (f *ragFront) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		_ = f.srv.Close()
		f.srv = nil
	}
}

// up serves the RAG server on its port again.
func (f *ragFront) up() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("dev RAG server back on %s: %w", f.addr, err)
	}
	f.serve(ln)
	return nil
}

func (f *ragFront) close() {
	f.down()
	f.rag.Close()
}

// lastAnswer is the full answer the dev RAG server gave in a session (a
// room) most recently, also when a fault cut its stream short.
func (f *ragFront) lastAnswer(t testing.TB, room string) ragdev.Turn {
	t.Helper()
	turns := f.rag.History(room)
	if len(turns) == 0 {
		t.Fatalf("the dev RAG server answered nothing in %s", room)
	}
	return turns[len(turns)-1]
}

// ---------------------------------------------------------------------------
// Users, logins and rooms

// user is a test user with the harness's password.
type user struct {
	CompanyID, UserID, UserName string
}

// newUser writes a fresh user of company into the Users table.
func (hr *harness) newUser(t testing.TB, companyID string) user {
	t.Helper()
	u := user{CompanyID: companyID, UserID: "e2e-" + randHex(6), UserName: "테스트-" + randHex(2)}
	hr.putUser(t, u)
	return u
}

func (hr *harness) putUser(t testing.TB, u user) {
	t.Helper()
	err := store.New(hr.st.DB, hr.st.Tables).PutUser(context.Background(), store.User{
		CompanyID: u.CompanyID, UserID: u.UserID, UserName: u.UserName, Email: u.UserID + "@example.com",
		Role: store.UserRoleCustomer, PasswordHash: hr.hash, CreatedAt: time.Now().UnixMilli(),
	})
	if err != nil {
		t.Fatalf("put user %s/%s: %v", u.CompanyID, u.UserID, err)
	}
}

// httpResult is an HTTP answer, body read.
type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// apiError is the error body of the HTTP API and of a refused handshake.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorBody decodes r's body as the documented error JSON.
func (r httpResult) errorBody(t testing.TB) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("status %d: body %q is not the error JSON: %v", r.Status, r.Body, err)
	}
	return e
}

// do sends an HTTP request to the stack's HTTP API (path includes any query).
func (hr *harness) do(t testing.TB, method, path string, header map[string]string, body string) httpResult {
	t.Helper()
	return hr.doFrom(t, http.DefaultClient, method, path, header, body)
}

// source is a loopback address of its own (127.x.y.z, which Linux routes
// to lo) and an HTTP client whose requests come from it: the HTTP API
// sees it as the source IP, so that the per-source login budget of one
// test is its own. It skips the test where such addresses cannot be bound.
func source(t testing.TB) (string, *http.Client) {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	ip := fmt.Sprintf("127.%d.%d.%d", b[0], b[1], max(b[2], 1))
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot bind loopback address %s: %v", ip, err)
	}
	l.Close()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: guard}
	return ip, &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 64}}
}

// doFrom is do with client.
func (hr *harness) doFrom(t testing.TB, client *http.Client, method, path string, header map[string]string, body string) httpResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, hr.st.URLs.HTTP+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, raw := testkit.Do(t, client, req)
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// tryLogin posts credentials as a JSON body.
func (hr *harness) tryLogin(t testing.TB, companyID, id, password string) httpResult {
	t.Helper()
	return hr.tryLoginFrom(t, http.DefaultClient, companyID, id, password)
}

// tryLoginFrom is tryLogin with client (see source).
func (hr *harness) tryLoginFrom(t testing.TB, client *http.Client, companyID, id, password string) httpResult {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"id": id, "password": password})
	r := hr.doFrom(t, client, http.MethodPost, "/api/customer/"+url.PathEscape(companyID)+"/login",
		map[string]string{"Content-Type": "application/json"}, string(body))
	if r.Status == http.StatusOK {
		var lr login.Response
		if err := json.Unmarshal(r.Body, &lr); err == nil && lr.Token != "" {
			hr.secrets.addToken("login token", lr.Token)
		}
	}
	return r
}

// login logs u in (once per test binary) and returns the token.
func (hr *harness) login(t testing.TB, u user) string {
	t.Helper()
	key := u.CompanyID + "#" + u.UserID
	hr.mu.Lock()
	token, ok := hr.tokens[key]
	hr.mu.Unlock()
	if ok {
		return token
	}
	r := hr.tryLogin(t, u.CompanyID, u.UserID, hr.password)
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", key, r.Status, r.Body)
	}
	var lr login.Response
	if err := json.Unmarshal(r.Body, &lr); err != nil {
		t.Fatalf("login %s: %v in %s", key, err, r.Body)
	}
	hr.mu.Lock()
	hr.tokens[key] = lr.Token
	hr.mu.Unlock()
	return lr.Token
}

// newRoom creates a chatbot room with token.
func (hr *harness) newRoom(t testing.TB, token string) apigw.Room {
	t.Helper()
	r := hr.do(t, http.MethodPost, "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + token}, "")
	if r.Status != http.StatusOK {
		t.Fatalf("create room: %d %s", r.Status, r.Body)
	}
	var room apigw.Room
	if err := json.Unmarshal(r.Body, &room); err != nil {
		t.Fatalf("create room: %v in %s", err, r.Body)
	}
	return room
}

// customer is a logged-in user with a fresh room.
type customer struct {
	user
	Token string
	Room  string
}

// newCustomer creates a user of company, logs in and opens a room.
func (hr *harness) newCustomer(t testing.TB, companyID string) customer {
	t.Helper()
	u := hr.newUser(t, companyID)
	token := hr.login(t, u)
	return customer{user: u, Token: token, Room: hr.newRoom(t, token).RoomID}
}

// ---------------------------------------------------------------------------
// DynamoDB, read through the SDK independently of shared/store

// storedMessage is an item of the Messages table.
type storedMessage struct {
	RoomID    string `dynamodbav:"roomId"`
	SK        string `dynamodbav:"sk"`
	Role      string `dynamodbav:"role"`
	Text      string `dynamodbav:"text"`
	Outcome   string `dynamodbav:"outcome"`
	MessageID string `dynamodbav:"messageId"`
	Category1 string `dynamodbav:"category1"`
	Category2 string `dynamodbav:"category2"`
}

// storedConnection is an item of the Connections table.
type storedConnection struct {
	ConnectionID string `dynamodbav:"connectionId"`
	RoomID       string `dynamodbav:"roomId"`
	UserID       string `dynamodbav:"userId"`
	UserName     string `dynamodbav:"userName"`
	CompanyID    string `dynamodbav:"companyId"`
	ConnectedAt  int64  `dynamodbav:"connectedAt"`
	ExpiresAt    int64  `dynamodbav:"expiresAt"`
	Slot         string `dynamodbav:"slot,omitempty"` // the socket slot it holds
}

// history returns the room's Messages items in key order (oldest first).
func (hr *harness) history(t testing.TB, room string) []storedMessage {
	t.Helper()
	var out []storedMessage
	hr.roomItems(t, room, &out)
	return out
}

// roomItems decodes into out (a pointer to a slice) every item of the
// room's Messages partition in key order, strongly consistent.
func (hr *harness) roomItems(t testing.TB, room string, out any) {
	t.Helper()
	hr.query(t, &dynamodb.QueryInput{
		TableName:                 aws.String(hr.st.Tables.Messages),
		KeyConditionExpression:    aws.String("roomId = :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: room}},
		ConsistentRead:            aws.Bool(true),
	}, out)
}

// roomConnections returns every Connections item of the room, expired or
// not.
func (hr *harness) roomConnections(t testing.TB, room string) []storedConnection {
	t.Helper()
	var out []storedConnection
	hr.query(t, &dynamodb.QueryInput{
		TableName:                 aws.String(hr.st.Tables.Connections),
		IndexName:                 aws.String("byRoom"),
		KeyConditionExpression:    aws.String("roomId = :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: room}},
	}, &out)
	return out
}

func (hr *harness) query(t testing.TB, in *dynamodb.QueryInput, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(hr.st.DB, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("query %s: %v", aws.ToString(in.TableName), err)
		}
		items = append(items, page.Items...)
	}
	if err := attributevalue.UnmarshalListOfMaps(items, out); err != nil {
		t.Fatalf("decode %s items: %v", aws.ToString(in.TableName), err)
	}
}

func unmarshalMap(item map[string]types.AttributeValue, out any) error {
	if err := attributevalue.UnmarshalMap(item, out); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	return nil
}

// item reads, strongly consistent, the item of table whose string key
// attribute keyName is key: nil when there is none.
func (hr *harness) item(t testing.TB, table, keyName, key string) map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	out, err := hr.st.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{keyName: &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("get %s %s: %v", table, key, err)
	}
	return out.Item
}

// connectionItem reports whether the Connections table holds id.
func (hr *harness) connectionItem(t testing.TB, id string) bool {
	t.Helper()
	return hr.item(t, hr.st.Tables.Connections, "connectionId", id) != nil
}

// putConnection writes a Connections item directly, as a connection whose
// $disconnect was lost would have left it.
func (hr *harness) putConnection(t testing.TB, c storedConnection) {
	t.Helper()
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if _, err := hr.st.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(hr.st.Tables.Connections), Item: item}); err != nil {
		t.Fatalf("put connection %s: %v", c.ConnectionID, err)
	}
}

// waitNoConnections waits until the room has no Connections item left
// and none of its socket slots is held: a $disconnect deletes the
// connection, then gives its slot back, so only then is it done (and a
// test counting writes after it counts none of its).
func (hr *harness) waitNoConnections(t testing.TB, room string) {
	t.Helper()
	eventually(t, "no connection or socket slot left in room "+room, func() bool {
		return len(hr.roomConnections(t, room)) == 0 && len(hr.roomSlotHolders(t, room)) == 0
	})
}

// writeOps are the DynamoDB operations that write.
var writeOps = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
}

// writes returns the number of write requests the embedded DynamoDB has
// served so far.
func (hr *harness) writes() int {
	n := 0
	for c, k := range hr.st.Dynamo.Counts() {
		if writeOps[c.Operation] {
			n += k
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// Small helpers

// eventually polls cond every 20 ms until it holds, failing after guard.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
