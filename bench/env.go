package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ragchat/ragchat/internal/samtemplate"
	"github.com/ragchat/ragchat/local/lambda"
	"github.com/ragchat/ragchat/local/stack"
	"github.com/ragchat/ragchat/local/wsapi"
)

// BaselineFunction is the logical name the baseline relay runs under.
const BaselineFunction = "BaselineMessageFunction"

// Env is the system under test: the local stack (real function processes
// behind the WebSocket and HTTP APIs, embedded DynamoDB) with its RAG
// service replaced by a Recorder, plus a second WebSocket API whose
// sendMessage route runs the baseline relay in its own Lambda pool, against
// the same tables and the same RAG service.
type Env struct {
	Root      string
	Work      string // scratch directory (builds), removed by Close
	Template  map[string]samtemplate.Function
	Stack     *stack.Stack
	RAG       *Recorder
	Reports   *Reports
	API       API
	Stage     string
	Baseline  *wsapi.Server
	BaseWSURL string // ws://127.0.0.1:port/stage of the baseline API

	basePool *lambda.Pool
	servers  []*http.Server
}

// EnvOptions configure NewEnv.
type EnvOptions struct {
	Root            string // repository root (template.yaml)
	MaxEnvironments int    // per function, in both pools
}

// NewEnv builds the functions (through the Makefile, as the stack does)
// and the baseline, and starts everything on free loopback ports.
func NewEnv(ctx context.Context, o EnvOptions) (*Env, error) {
	work, err := os.MkdirTemp("", "ragchat-bench-")
	if err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	e := &Env{Root: o.Root, Work: work, Reports: NewReports(), RAG: NewRecorder(Script{})}
	if err := e.start(ctx, o); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// benchLimits raise the per-user abuse limits for the bench: it measures
// throughput and latency with a few demo customers asking hundreds of
// questions and opening hundreds of rooms, which the defaults (30
// questions, then 10 a minute; 20 rooms an hour) would refuse. What the
// limits cost is measured apart (bench/limits_bench_test.go).
var benchLimits = map[string]string{
	"QUESTION_BURST":       "1000000",
	"QUESTIONS_PER_MINUTE": "1000000",
	"ROOMS_PER_HOUR":       "1000000",
}

func (e *Env) start(ctx context.Context, o EnvOptions) error {
	tpl, err := samtemplate.Load(filepath.Join(e.Root, "template.yaml"))
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	e.Template = map[string]samtemplate.Function{}
	for _, f := range fns {
		e.Template[f.LogicalID] = f
	}
	ragURL, err := e.serve(e.RAG)
	if err != nil {
		return err
	}
	e.Stack, err = stack.Start(ctx, stack.Options{
		Dir:             e.Root,
		BuildDir:        filepath.Join(e.Work, "host"),
		RAGURL:          ragURL,
		TablePrefix:     "ragchat-bench-",
		MaxEnvironments: o.MaxEnvironments,
		EnvVars:         stack.EnvVars{"Parameters": benchLimits},
		FunctionOutput:  e.Reports,
	})
	if err != nil {
		return fmt.Errorf("start the local stack: %w", err)
	}
	e.API = API{Base: e.Stack.URLs.HTTP, HC: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	u, err := url.Parse(e.Stack.URLs.WebSocket)
	if err != nil {
		return fmt.Errorf("stack websocket URL: %w", err)
	}
	e.Stage = strings.Trim(u.Path, "/")
	return e.startBaseline(ctx, o)
}

// startBaseline builds the baseline function for the host and serves a
// WebSocket API whose $connect and $disconnect run the stack's functions
// and whose sendMessage runs the baseline.
func (e *Env) startBaseline(ctx context.Context, o EnvOptions) error {
	bin := filepath.Join(e.Work, "host", BaselineFunction, "bootstrap")
	if err := goBuild(ctx, e.Root, "./bench/cmd/baseline-message", bin, ""); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("baseline websocket API: %w", err)
	}
	env := e.Stack.FunctionEnv("MessageFunction")
	env["CALLBACK_URL"] = "http://" + ln.Addr().String() + "/" + e.Stage
	msg := e.Template["MessageFunction"]
	e.basePool, err = lambda.NewPool([]lambda.Function{{
		Name: BaselineFunction, Path: bin, Env: env, Timeout: msg.Timeout, MemoryMB: msg.MemorySize,
	}}, lambda.Options{MaxEnvironments: o.MaxEnvironments, Output: e.Reports})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("baseline pool: %w", err)
	}
	e.Baseline, err = wsapi.New(wsapi.Config{
		Stage: e.Stage,
		Routes: map[string]string{
			wsapi.RouteConnect:    "ConnectFunction",
			wsapi.RouteDisconnect: "DisconnectFunction",
			"sendMessage":         BaselineFunction,
		},
	}, invokers{BaselineFunction: e.basePool, "": e.Stack.Pool}, nil)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("baseline websocket API: %w", err)
	}
	srv := &http.Server{Handler: e.Baseline, ReadHeaderTimeout: 10 * time.Second}
	e.servers = append(e.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	e.BaseWSURL = "ws://" + ln.Addr().String() + "/" + e.Stage
	return nil
}

// serve serves h on a free loopback port and returns its base URL.
func (e *Env) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	e.servers = append(e.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops everything NewEnv started and removes the scratch directory.
func (e *Env) Close() {
	if e.Baseline != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = e.Baseline.Shutdown(ctx)
		cancel()
	}
	if e.Stack != nil {
		e.Stack.Close()
	}
	if e.basePool != nil {
		_ = e.basePool.Close()
	}
	for _, s := range e.servers {
		_ = s.Close()
	}
	_ = os.RemoveAll(e.Work)
}

// Logical maps the stack's physical table names to the template's
// logical IDs.
func (e *Env) Logical() map[string]string {
	out := map[string]string{}
	for id, name := range e.Stack.TableNames {
		out[name] = id
	}
	return out
}

// HostBootstrap is the path of a function's host build made by the stack.
func (e *Env) HostBootstrap(function string) (string, error) {
	p := filepath.Join(e.Work, "host", function, "bootstrap")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("host build of %s: %w", function, err)
	}
	return p, nil
}

// invokers routes invocations by function name; "" is the fallback.
type invokers map[string]wsapi.Invoker

func (m invokers) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	inv, ok := m[function]
	if !ok {
		inv = m[""]
	}
	if inv == nil {
		return nil, errors.New("no invoker for " + function)
	}
	out, err := inv.Invoke(ctx, function, payload)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	return out, nil
}

// goBuild builds pkg like the Makefile's build targets do (static, no RPC,
// trimmed, stripped) into out, for the host or for goarch on Linux.
func goBuild(ctx context.Context, root, pkg, out, goarch string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+goarch)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
