package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
)

// testBootstrap is the path of testdata/bootstrap built for the host.
var testBootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambda-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testBootstrap = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", testBootstrap, "./testdata/bootstrap")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build test bootstrap: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type reply struct {
	Op         string            `json:"op"`
	Arg        string            `json:"arg"`
	PID        int               `json:"pid"`
	Env        map[string]string `json:"env"`
	DeadlineMs int64             `json:"deadlineMs"`
	ARN        string            `json:"arn"`
	RequestID  string            `json:"requestId"`
}

func newPool(t *testing.T, fn Function, opts Options) *Pool {
	t.Helper()
	if fn.Name == "" {
		fn.Name = "TestFunction"
	}
	fn.Path = testBootstrap
	if fn.Timeout == 0 {
		fn.Timeout = 30 * time.Second
	}
	p, err := NewPool([]Function{fn}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func invoke(t *testing.T, p *Pool, op, arg string) (reply, error) {
	t.Helper()
	return invokeCtx(context.Background(), t, p, op, arg)
}

func invokeCtx(ctx context.Context, t *testing.T, p *Pool, op, arg string) (reply, error) {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"op": op, "arg": arg})
	out, err := p.Invoke(ctx, p.Functions()[0], payload)
	if err != nil {
		return reply{}, err
	}
	var r reply
	if err := json.Unmarshal(out, &r); err != nil {
		return reply{}, fmt.Errorf("response %q: %w", out, err)
	}
	return r, nil
}

func mustInvoke(t *testing.T, p *Pool, op, arg string) reply {
	t.Helper()
	r, err := invoke(t, p, op, arg)
	if err != nil {
		t.Fatalf("invoke %s: %v", op, err)
	}
	return r
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// gate is a loopback HTTP endpoint the test function calls with op "get":
// each call reports its arrival and blocks until the gate opens.
type gate struct {
	url     string
	arrived chan struct{}
	open    chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}, 16), open: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		<-g.open
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.release)
	g.url = srv.URL
	return g
}

var releaseMu sync.Mutex

func (g *gate) release() {
	releaseMu.Lock()
	defer releaseMu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func TestInvoke_ReturnsResponseAndReusesWarmEnvironment(t *testing.T) {
	p := newPool(t, Function{}, Options{})
	first := mustInvoke(t, p, "echo", "안녕하세요")
	if first.Arg != "안녕하세요" {
		t.Fatalf("echo arg = %q", first.Arg)
	}
	second := mustInvoke(t, p, "echo", "again")
	if second.PID != first.PID {
		t.Fatalf("second invocation ran in a new environment (pid %d, then %d)", first.PID, second.PID)
	}
}

func TestInvoke_FunctionErrors(t *testing.T) {
	tests := []struct {
		name        string
		op, arg     string
		wantType    string
		wantMessage string // regexp
		replaced    bool   // the environment is replaced afterwards
	}{
		{"returned error keeps the environment", "error", "no such room", "customError", "^no such room$", false},
		{"panic ends the environment", "panic", "boom", "string", "^boom$", true},
		{"crash ends the environment", "exit", "", "Runtime.ExitError", `^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3$`, true},
		{"oversized response fails", "big", "", "Function.ResponseSizeTooLarge", `maximum allowed payload size \(6291456 bytes\)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, Function{}, Options{MaxEnvironments: 1})
			before := mustInvoke(t, p, "echo", "")
			_, err := invoke(t, p, tt.op, tt.arg)
			var fe *FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FunctionError", err)
			}
			if fe.Type != tt.wantType || !regexp.MustCompile(tt.wantMessage).MatchString(fe.Message) {
				t.Fatalf("error = %+v, want type %s and message matching %s", fe, tt.wantType, tt.wantMessage)
			}
			after := mustInvoke(t, p, "echo", "")
			if replaced := after.PID != before.PID; replaced != tt.replaced {
				t.Fatalf("environment replaced = %v, want %v", replaced, tt.replaced)
			}
			if tt.replaced && alive(before.PID) {
				t.Fatalf("old environment process %d still alive", before.PID)
			}
		})
	}
}

func TestInvoke_InitFailures(t *testing.T) {
	tests := []struct {
		name        string
		mode        string
		wantType    string
		wantMessage string // regexp
	}{
		{"init error posted by the runtime", "error", "InitFailure", "^config missing$"},
		{"process exits during init", "exit", "Runtime.ExitError", "Runtime exited with error: exit status 2$"},
		{"init exceeds its time limit", "hang", "Sandbox.Timedout", "Init timed out after 0.50 seconds$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &testkit.SyncBuffer{}
			p := newPool(t, Function{Env: map[string]string{"TEST_INIT": tt.mode}},
				Options{InitTimeout: 500 * time.Millisecond, Output: out})
			for range 2 { // a failed environment is replaced, and fails again
				_, err := invoke(t, p, "echo", "")
				var fe *FunctionError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want *FunctionError", err)
				}
				if fe.Type != tt.wantType || !regexp.MustCompile(tt.wantMessage).MatchString(fe.Message) {
					t.Fatalf("error = %+v, want type %s and message matching %s", fe, tt.wantType, tt.wantMessage)
				}
			}
		})
	}
}

func TestInvoke_TimeoutKillsAndReplacesEnvironment(t *testing.T) {
	out := &testkit.SyncBuffer{}
	p := newPool(t, Function{Timeout: 500 * time.Millisecond}, Options{MaxEnvironments: 1, Output: out})
	before := mustInvoke(t, p, "echo", "")
	_, err := invoke(t, p, "sleep", "1h")
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" ||
		!regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: Task timed out after 0.50 seconds$`).MatchString(fe.Message) {
		t.Fatalf("err = %v, want Sandbox.Timedout after 0.50 seconds", err)
	}
	if alive(before.PID) {
		t.Fatalf("timed-out environment process %d still alive", before.PID)
	}
	after := mustInvoke(t, p, "echo", "")
	if after.PID == before.PID {
		t.Fatal("timed-out environment was reused")
	}
	if !strings.Contains(out.String(), "Task timed out after 0.50 seconds") {
		t.Fatalf("output lacks the timeout line:\n%s", out)
	}
}

func TestInvoke_ConcurrentInvocationsGetSeparateEnvironments(t *testing.T) {
	p := newPool(t, Function{}, Options{})
	g := newGate(t)
	results := make(chan reply, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			r, err := invoke(t, p, "get", g.url)
			errs <- err
			results <- r
		}()
	}
	<-g.arrived // both invocations are inside the function at once
	<-g.arrived
	g.release()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	a, b := <-results, <-results
	if a.PID == b.PID {
		t.Fatalf("both invocations ran in process %d", a.PID)
	}
}

func TestInvoke_WaitsForFreeEnvironmentAtLimit(t *testing.T) {
	p := newPool(t, Function{}, Options{MaxEnvironments: 1})
	g := newGate(t)
	first := make(chan reply, 1)
	go func() {
		r, err := invoke(t, p, "get", g.url)
		if err != nil {
			t.Error(err)
		}
		first <- r
	}()
	<-g.arrived
	second := make(chan reply, 1)
	go func() {
		r, err := invoke(t, p, "echo", "")
		if err != nil {
			t.Error(err)
		}
		second <- r
	}()
	g.release()
	a, b := <-first, <-second
	if a.PID != b.PID {
		t.Fatalf("a second environment was started beyond the limit (pids %d, %d)", a.PID, b.PID)
	}
}

func TestInvoke_CallerGivingUpLeavesInvocationRunning(t *testing.T) {
	p := newPool(t, Function{}, Options{MaxEnvironments: 1})
	g := newGate(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := invokeCtx(ctx, t, p, "get", g.url)
		errc <- err
	}()
	<-g.arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	g.release()
	r := mustInvoke(t, p, "echo", "after") // waits for the same environment
	if r.Arg != "after" {
		t.Fatalf("arg = %q", r.Arg)
	}
}

func TestInvoke_EnvironmentVariables(t *testing.T) {
	t.Setenv("RAGCHAT_HOST_ONLY", "leak")
	p := newPool(t, Function{
		Name:     "LoginFunction",
		MemoryMB: 512,
		Env: map[string]string{
			"USERS_TABLE":              "local-Users",
			"AWS_LAMBDA_FUNCTION_NAME": "overridden", // reserved: Lambda's value wins
		},
	}, Options{Region: "ap-northeast-2"})
	keys := []string{"USERS_TABLE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
		"AWS_LAMBDA_FUNCTION_VERSION", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_LOG_GROUP_NAME",
		"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "_HANDLER", "RAGCHAT_HOST_ONLY"}
	got := mustInvoke(t, p, "env", strings.Join(keys, ",")).Env
	want := map[string]string{
		"USERS_TABLE":                     "local-Users",
		"AWS_LAMBDA_FUNCTION_NAME":        "LoginFunction",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_REGION":                      "ap-northeast-2",
		"AWS_DEFAULT_REGION":              "ap-northeast-2",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/LoginFunction",
		"LAMBDA_TASK_ROOT":                filepath.Dir(testBootstrap),
		"_HANDLER":                        "bootstrap",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(got["AWS_LAMBDA_RUNTIME_API"]) {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", got["AWS_LAMBDA_RUNTIME_API"])
	}
	if !regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`).MatchString(got["AWS_LAMBDA_LOG_STREAM_NAME"]) {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q", got["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if v, ok := got["RAGCHAT_HOST_ONLY"]; ok {
		t.Errorf("host variable leaked into the environment: %q", v)
	}
}

func TestInvoke_ContextCarriesDeadlineARNAndRequestID(t *testing.T) {
	const timeout = 7 * time.Second
	p := newPool(t, Function{Name: "ChatbotFunction", Timeout: timeout}, Options{Region: "us-west-2", AccountID: "111122223333"})
	mustInvoke(t, p, "echo", "") // warm, so that the deadline does not include init
	before := time.Now()
	r := mustInvoke(t, p, "context", "")
	after := time.Now()
	if lo, hi := before.Add(timeout).UnixMilli(), after.Add(timeout).UnixMilli(); r.DeadlineMs < lo || r.DeadlineMs > hi {
		t.Errorf("deadline %d not in [%d, %d]", r.DeadlineMs, lo, hi)
	}
	if want := "arn:aws:lambda:us-west-2:111122223333:function:ChatbotFunction"; r.ARN != want {
		t.Errorf("ARN = %q, want %q", r.ARN, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.RequestID) {
		t.Errorf("request ID = %q, want a UUID", r.RequestID)
	}
}

func TestInvoke_OutputIsPrefixedLineByLine(t *testing.T) {
	out := &testkit.SyncBuffer{}
	p := newPool(t, Function{Name: "MessageFunction"}, Options{Output: out})
	r := mustInvoke(t, p, "print", "질문 하나")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"[MessageFunction#1] stdout: 질문 하나\n",
		"[MessageFunction#1] stderr: 질문 하나\n",
		"[MessageFunction#1] START RequestId: ",
		"[MessageFunction#1] END RequestId: ",
		"[MessageFunction#1] REPORT RequestId: ",
		"\tInit Duration: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if r.Op != "print" {
		t.Fatalf("op = %q", r.Op)
	}
}

func TestClose_KillsEnvironmentsAndRefusesInvocations(t *testing.T) {
	p := newPool(t, Function{}, Options{})
	g := newGate(t)
	busy := make(chan error, 1)
	go func() {
		_, err := invoke(t, p, "get", g.url)
		busy <- err
	}()
	<-g.arrived
	idle := mustInvoke(t, p, "echo", "")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-busy; !errors.Is(err, ErrClosed) {
		t.Fatalf("in-flight invocation err = %v, want ErrClosed", err)
	}
	if alive(idle.PID) {
		t.Fatalf("environment process %d survived Close", idle.PID)
	}
	if _, err := invoke(t, p, "echo", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke after Close: err = %v, want ErrClosed", err)
	}
}

func TestNewPool_RejectsBadFunctions(t *testing.T) {
	tests := []struct {
		name string
		fns  []Function
	}{
		{"missing path", []Function{{Name: "A"}}},
		{"missing name", []Function{{Path: "/bin/true"}}},
		{"duplicate", []Function{{Name: "A", Path: "/bin/true"}, {Name: "A", Path: "/bin/true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPool(tt.fns, Options{}); err == nil {
				t.Fatal("NewPool succeeded")
			}
		})
	}
}

func TestInvoke_UnknownFunctionFails(t *testing.T) {
	p := newPool(t, Function{}, Options{})
	if _, err := p.Invoke(context.Background(), "Nope", []byte(`{}`)); err == nil {
		t.Fatal("invoke of an unknown function succeeded")
	}
}
