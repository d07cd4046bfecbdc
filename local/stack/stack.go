// Package stack runs ragchat's local stack: it reads template.yaml, builds
// every function for the host, and serves the HTTP API, the WebSocket API
// with its @connections endpoint, an embedded DynamoDB and the dev RAG
// server, with the functions running as real bootstrap processes behind
// the Lambda Runtime API. `make run` (local/cmd/ragchat-local) and the
// end-to-end tests both start it through Start.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/internal/samtemplate"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/local/httpapi"
	"github.com/ragchat/ragchat/local/lambda"
	"github.com/ragchat/ragchat/local/ragdev"
	"github.com/ragchat/ragchat/local/web"
	"github.com/ragchat/ragchat/local/wsapi"
	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

// Defaults of the local stack.
const (
	DefaultHost        = "127.0.0.1"
	DefaultTablePrefix = "ragchat-local-"
	DefaultRegion      = "us-east-1"
	stackName          = "ragchat-local"
	// ShutdownGrace bounds how long Close waits for open sockets' $disconnect
	// and running invocations before killing the environments.
	ShutdownGrace = 10 * time.Second
)

// DefaultSuggestions are questions the dev RAG server answers for apt001.
var DefaultSuggestions = []string{
	"관리비는 언제까지 내야 하나요?",
	"방문 차량은 어떻게 등록하나요?",
	"분리수거는 언제 하나요?",
	"택배는 어디서 찾나요?",
}

// Options configure a stack. Ports are fixed numbers, or 0 for a free one.
type Options struct {
	// Dir is the repository root (template.yaml, Makefile); empty means the
	// nearest directory upwards from the working directory that has a
	// template.yaml.
	Dir string
	// BuildDir receives the built functions; empty means Dir/.local/build.
	BuildDir string

	Host       string // listen address of every server; DefaultHost when empty
	HTTPPort   int    // HTTP API and web page (SAM's 3000)
	WSPort     int    // WebSocket API and @connections (3001)
	RAGPort    int    // dev RAG server (8040)
	DynamoPort int    // embedded DynamoDB (8000)

	// RAGURL, when set, is the RAG service the functions use; no dev RAG
	// server is started.
	RAGURL string
	// DynamoEndpoint, when set, is the DynamoDB the stack uses (DynamoDB
	// Local, dynalite, AWS); no embedded DynamoDB is started.
	DynamoEndpoint string
	// TablePrefix is put before each table's logical ID to name it;
	// DefaultTablePrefix when empty.
	TablePrefix string
	// Region is the AWS region the functions see; DefaultRegion when empty.
	Region string
	// Credentials are passed to the functions and used by the stack's own
	// DynamoDB client; dummy ones when empty (fine for the emulators).
	Credentials aws.Credentials
	// TokenSecret signs login tokens; a random one per Start when empty.
	TokenSecret string
	// EnvVars are the --env-vars overrides, applied last.
	EnvVars EnvVars
	// MaxEnvironments caps the execution environments per function.
	MaxEnvironments int

	// RAGDev configures the dev RAG server (faults, pace).
	RAGDev ragdev.Options
	// WebSocket configures the WebSocket API's limits and faults; its
	// Stage, Routes and RouteSelectionExpression come from the template.
	WebSocket wsapi.Config
	// Suggestions are the questions the chat page offers as one-click
	// chips; DefaultSuggestions when nil.
	Suggestions []string

	// Logger gets the stack's own lines (builds, servers, requests); nil
	// discards them.
	Logger *slog.Logger
	// FunctionOutput gets the functions' output, each line prefixed with
	// the function; nil discards it.
	FunctionOutput io.Writer
}

// URLs are the addresses of a running stack.
type URLs struct {
	HTTP        string // http://127.0.0.1:3000
	WebSocket   string // ws://127.0.0.1:3001/prod
	Connections string // http://127.0.0.1:3001/prod/@connections (the functions' CALLBACK_URL base)
	RAG         string // the RAG service the functions use
	DynamoDB    string // the DynamoDB endpoint
}

// Stack is a running local stack.
type Stack struct {
	URLs   URLs
	Tables store.Tables
	// TableNames maps each table's logical ID to its physical name.
	TableNames map[string]string
	DB         *dynamodb.Client
	Pool       *lambda.Pool
	WS         *wsapi.Server
	// RAG is the dev RAG server, nil when Options.RAGURL was set.
	RAG *ragdev.Server
	// Dynamo is the embedded DynamoDB, nil when Options.DynamoEndpoint was set.
	Dynamo *dynamo.Server

	log       *slog.Logger
	env       map[string]map[string]string
	httpSrv   *http.Server
	wsSrv     *http.Server
	ragSrv    *http.Server
	closeOnce sync.Once
	closers   []func()
}

// Start builds the functions and starts the stack. On error, whatever had
// started is stopped again. ctx bounds the start only.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s := &Stack{log: opts.Logger}
	if err := s.start(ctx, opts); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		dir, err := samtemplate.FindRoot()
		if err != nil {
			return err
		}
		o.Dir = dir
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("stack dir: %w", err)
	}
	o.Dir = dir
	if o.BuildDir == "" {
		o.BuildDir = filepath.Join(o.Dir, ".local", "build")
	}
	if o.BuildDir, err = filepath.Abs(o.BuildDir); err != nil {
		return fmt.Errorf("build dir: %w", err)
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.TablePrefix == "" {
		o.TablePrefix = DefaultTablePrefix
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Credentials.AccessKeyID == "" {
		o.Credentials = aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}
	}
	if o.TokenSecret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("token secret: %w", err)
		}
		o.TokenSecret = hex.EncodeToString(b)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Suggestions == nil {
		o.Suggestions = DefaultSuggestions
	}
	return nil
}

func (s *Stack) start(ctx context.Context, opts Options) error {
	tpl, err := samtemplate.Load(filepath.Join(opts.Dir, "template.yaml"))
	if err != nil {
		return err
	}
	ws, err := tpl.WebSocket()
	if err != nil {
		return err
	}
	tables, err := tpl.Tables()
	if err != nil {
		return err
	}
	fns, err := tpl.Functions()
	if err != nil {
		return err
	}
	// Listen first: the functions' environment needs the real ports.
	httpLn, wsLn, err := s.listen(opts, ws.Stage)
	if err != nil {
		return err
	}
	ids := make([]string, len(fns))
	for i, f := range fns {
		ids[i] = f.LogicalID
	}
	paths, err := buildFunctions(ctx, opts.Dir, opts.BuildDir, ids, s.log)
	if err != nil {
		return err
	}
	if err := s.startDynamo(ctx, opts, tables); err != nil {
		return err
	}
	if err := s.startRAG(opts); err != nil {
		return err
	}
	if err := s.startFunctions(opts, tpl, fns, paths, tables, "http://"+wsLn.Addr().String()+"/"+ws.Stage); err != nil {
		return err
	}
	s.Tables = store.Tables(config.TablesFrom(tpl.TableNames(func(id string) string { return s.TableNames[id] })))
	if err := seedUsers(ctx, store.New(s.DB, s.Tables), s.log); err != nil {
		return err
	}
	if err := s.serveWebSocket(opts, ws, wsLn); err != nil {
		return err
	}
	return s.serveHTTP(opts, tpl, httpLn)
}

// listen opens the HTTP and WebSocket API listeners and sets the URLs.
func (s *Stack) listen(opts Options, stage string) (httpLn, wsLn net.Listener, err error) {
	if httpLn, err = listen(opts.Host, opts.HTTPPort, "HTTP API"); err != nil {
		return nil, nil, err
	}
	s.closers = append(s.closers, func() { _ = httpLn.Close() })
	if wsLn, err = listen(opts.Host, opts.WSPort, "WebSocket API"); err != nil {
		return nil, nil, err
	}
	s.closers = append(s.closers, func() { _ = wsLn.Close() })
	s.URLs.HTTP = "http://" + httpLn.Addr().String()
	s.URLs.WebSocket = "ws://" + wsLn.Addr().String() + "/" + stage
	s.URLs.Connections = "http://" + wsLn.Addr().String() + "/" + stage + "/@connections"
	return httpLn, wsLn, nil
}

// startFunctions starts the pool of the functions built at paths, each
// with its environment: the template's, with the local endpoints
// (callbackURL for @connections) and opts.EnvVars over it.
func (s *Stack) startFunctions(opts Options, tpl *samtemplate.Template, fns []samtemplate.Function, paths map[string]string, tables []samtemplate.Table, callbackURL string) error {
	s.TableNames = map[string]string{}
	for _, t := range tables {
		s.TableNames[t.LogicalID] = opts.TablePrefix + t.LogicalID
	}
	res := resolver{tpl: tpl, region: opts.Region, accountID: lambda.DefaultAccountID, tables: s.TableNames}
	overrides := map[string]string{
		"TOKEN_SECRET":              opts.TokenSecret,
		"CALLBACK_URL":              callbackURL,
		"RAG_URL":                   s.URLs.RAG,
		"AWS_ENDPOINT_URL_DYNAMODB": s.URLs.DynamoDB,
		"AWS_ACCESS_KEY_ID":         opts.Credentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     opts.Credentials.SecretAccessKey,
	}
	if opts.Credentials.SessionToken != "" {
		overrides["AWS_SESSION_TOKEN"] = opts.Credentials.SessionToken
	}
	if opts.RAGDev.Bearer != "" { // the dev RAG server requires it: the functions send it
		overrides["RAG_AUTH_TOKEN"] = opts.RAGDev.Bearer
	}
	s.env = map[string]map[string]string{}
	lfns := make([]lambda.Function, 0, len(fns))
	for _, f := range fns {
		env, err := res.functionEnv(f, overrides, opts.EnvVars)
		if err != nil {
			return err
		}
		s.env[f.LogicalID] = env
		lfns = append(lfns, lambda.Function{
			Name: f.LogicalID, Path: paths[f.LogicalID], Env: env,
			Timeout: f.Timeout, MemoryMB: f.MemorySize,
		})
	}
	var err error
	s.Pool, err = lambda.NewPool(lfns, lambda.Options{
		MaxEnvironments: opts.MaxEnvironments,
		Output:          opts.FunctionOutput,
		Region:          opts.Region,
	})
	return err
}

// serveWebSocket serves the template's WebSocket API and @connections on ln.
func (s *Stack) serveWebSocket(opts Options, ws samtemplate.WebSocketAPI, ln net.Listener) error {
	wsCfg := opts.WebSocket
	wsCfg.Stage = ws.Stage
	wsCfg.Routes = ws.Routes
	wsCfg.Mocks = ws.Mocks
	wsCfg.RouteSelectionExpression = ws.RouteSelectionExpression
	var err error
	if s.WS, err = wsapi.New(wsCfg, s.Pool, s.log.With("api", "websocket")); err != nil {
		return err
	}
	s.wsSrv = &http.Server{Handler: s.WS, ReadHeaderTimeout: 10 * time.Second}
	go serve(s.wsSrv, ln, s.log)
	return nil
}

// serveHTTP serves the template's HTTP API routes on ln, and the web pages
// for every other path.
func (s *Stack) serveHTTP(opts Options, tpl *samtemplate.Template, ln net.Listener) error {
	routes, err := tpl.HTTPRoutes()
	if err != nil {
		return err
	}
	cors, err := corsOf(tpl)
	if err != nil {
		return err
	}
	httpRoutes := make([]httpapi.Route, len(routes))
	for i, r := range routes {
		httpRoutes[i] = httpapi.Route{Method: r.Method, Path: r.Path, Function: r.Function}
	}
	api, err := httpapi.New(httpRoutes, s.Pool, httpapi.Options{
		Fallback: web.Handler(web.Config{WebSocketURL: s.URLs.WebSocket, Suggestions: opts.Suggestions}),
		CORS:     cors,
		Logger:   s.log.With("api", "http"),
	})
	if err != nil {
		return err
	}
	s.httpSrv = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go serve(s.httpSrv, ln, s.log)
	return nil
}

// startDynamo starts the embedded DynamoDB unless an endpoint was given,
// connects the stack's client and creates the template's tables.
func (s *Stack) startDynamo(ctx context.Context, opts Options, tables []samtemplate.Table) error {
	s.URLs.DynamoDB = opts.DynamoEndpoint
	if s.URLs.DynamoDB == "" {
		srv, err := dynamo.Start(fmt.Sprintf("%s:%d", opts.Host, opts.DynamoPort))
		if err != nil && opts.DynamoPort != 0 {
			s.log.Warn("DynamoDB port taken; using a free one", "port", opts.DynamoPort, "err", err)
			srv, err = dynamo.Start(opts.Host + ":0")
		}
		if err != nil {
			return err
		}
		s.Dynamo = srv
		s.closers = append(s.closers, func() { _ = srv.Close() })
		s.URLs.DynamoDB = srv.URL()
	}
	s.DB = dynamo.NewClient(s.URLs.DynamoDB, opts.Region, opts.Credentials)
	prefix := opts.TablePrefix
	if err := dynamo.CreateTables(ctx, s.DB, tables, func(id string) string { return prefix + id }); err != nil {
		return fmt.Errorf("create tables at %s: %w", s.URLs.DynamoDB, err)
	}
	return nil
}

// startRAG starts the dev RAG server unless a RAG URL was given.
func (s *Stack) startRAG(opts Options) error {
	if opts.RAGURL != "" {
		s.URLs.RAG = strings.TrimRight(opts.RAGURL, "/")
		return nil
	}
	ln, err := listen(opts.Host, opts.RAGPort, "dev RAG server")
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func() { _ = ln.Close() })
	ragOpts := opts.RAGDev
	if ragOpts.Logger == nil {
		ragOpts.Logger = s.log.With("server", "ragdev")
	}
	s.RAG = ragdev.New(ragOpts)
	s.ragSrv = &http.Server{Handler: s.RAG, ReadHeaderTimeout: 10 * time.Second}
	go serve(s.ragSrv, ln, s.log)
	s.URLs.RAG = "http://" + ln.Addr().String()
	return nil
}

// FunctionEnv returns the environment a function runs with (a copy).
func (s *Stack) FunctionEnv(function string) map[string]string {
	out := map[string]string{}
	for k, v := range s.env[function] {
		out[k] = v
	}
	return out
}

// Close stops the stack: open sockets get their $disconnect (within
// ShutdownGrace), then the servers stop and every function process is
// killed. Safe to call more than once.
func (s *Stack) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		if s.httpSrv != nil {
			_ = s.httpSrv.Shutdown(ctx)
		}
		if s.WS != nil {
			if err := s.WS.Shutdown(ctx); err != nil {
				s.log.Warn("websocket shutdown", "err", err)
			}
		}
		if s.wsSrv != nil {
			_ = s.wsSrv.Close()
		}
		if s.Pool != nil {
			_ = s.Pool.Close()
		}
		if s.RAG != nil {
			s.RAG.Close()
		}
		if s.ragSrv != nil {
			_ = s.ragSrv.Close()
		}
		for i := len(s.closers) - 1; i >= 0; i-- {
			s.closers[i]()
		}
	})
}

// corsOf returns the HttpApi's CorsConfiguration, if the template has one,
// with its Fn::If branches chosen by the parameters' defaults.
func corsOf(tpl *samtemplate.Template) (*httpapi.CORS, error) {
	for _, id := range tpl.ResourcesOfType("AWS::Serverless::HttpApi") {
		chosen, err := tpl.Choose(tpl.Resources[id].Properties["CorsConfiguration"])
		if err != nil {
			return nil, fmt.Errorf("%s CorsConfiguration: %w", id, err)
		}
		c, ok := chosen.(map[string]any)
		if !ok {
			continue
		}
		strs := func(key string) []string {
			var out []string
			list, _ := c[key].([]any)
			for _, v := range list {
				out = append(out, fmt.Sprint(v))
			}
			return out
		}
		cors := &httpapi.CORS{
			AllowOrigins:  strs("AllowOrigins"),
			AllowMethods:  strs("AllowMethods"),
			AllowHeaders:  strs("AllowHeaders"),
			ExposeHeaders: strs("ExposeHeaders"),
		}
		if n, err := strconv.Atoi(fmt.Sprint(c["MaxAge"])); err == nil {
			cors.MaxAge = n
		}
		if b, ok := c["AllowCredentials"].(bool); ok {
			cors.AllowCredentials = b
		}
		return cors, nil
	}
	return nil, nil
}

func listen(host string, port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, port))
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s:%d: %w", what, host, port, err)
	}
	return ln, nil
}

func serve(srv *http.Server, ln net.Listener, log *slog.Logger) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("server stopped", "addr", ln.Addr().String(), "err", err)
	}
}
