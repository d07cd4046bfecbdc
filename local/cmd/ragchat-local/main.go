// Command ragchat-local runs ragchat's whole stack on this machine (`make
// run`): it builds the functions of template.yaml for the host, starts the
// HTTP API and web page (127.0.0.1:3000), the WebSocket API and
// @connections (127.0.0.1:3001), the dev RAG server (127.0.0.1:8040) and an
// embedded DynamoDB (127.0.0.1:8000), seeds the demo users, and prints how
// to try it. Ctrl-C stops everything.
//
// Usage:
//
//	ragchat-local [-http-port 3000] [-ws-port 3001] [-rag-port 8040]
//	              [-dynamodb-port 8000] [-env-vars env.json] [-max-envs 10]
//	              [-dir repo-root] [-function-output=true]
//
// Each port flag defaults to its environment variable (RAGCHAT_HTTP_PORT,
// RAGCHAT_WS_PORT, RAGCHAT_RAG_PORT, RAGCHAT_DYNAMODB_PORT) when set.
// RAG_URL set: the functions use that RAG service and no dev RAG server
// starts. AWS_ENDPOINT_URL_DYNAMODB set: that DynamoDB is used (with the
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of the
// environment) and none is embedded. TOKEN_SECRET set: it signs the
// tokens instead of a random per-run secret. AWS_REGION sets the region.
// RAGDEV_FAULTS and RAGDEV_PIECE_DELAY configure the dev RAG server (see
// local/ragdev).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ragchat/ragchat/local/ragdev"
	"github.com/ragchat/ragchat/local/stack"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
			}
			return a
		},
	}))
	opts, err := parseOptions(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ragchat-local:", err)
		os.Exit(2)
	}
	opts.Logger = log
	if err := run(opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ragchat-local:", err)
		os.Exit(1)
	}
}

// run starts the stack, prints the banner and waits for SIGINT or SIGTERM.
func run(opts stack.Options, out io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := stack.Start(ctx, opts)
	if err != nil {
		return err
	}
	printBanner(out, st)
	<-ctx.Done()
	stop() // a second Ctrl-C ends the process at once
	opts.Logger.Info("stopping: closing sockets ($disconnect), then the functions")
	st.Close()
	opts.Logger.Info("stopped")
	return nil
}

// parseOptions reads the flags, with defaults from the environment.
func parseOptions(args []string, getenv func(string) string, errOut io.Writer) (stack.Options, error) {
	fs := flag.NewFlagSet("ragchat-local", flag.ContinueOnError)
	fs.SetOutput(errOut)
	port := func(name, env string, def int, usage string) *int {
		if v := getenv(env); v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				def = n
			}
		}
		return fs.Int(name, def, usage+" (env "+env+"; 0 = any free port)")
	}
	httpPort := port("http-port", "RAGCHAT_HTTP_PORT", 3000, "HTTP API and web page port")
	wsPort := port("ws-port", "RAGCHAT_WS_PORT", 3001, "WebSocket API and @connections port")
	ragPort := port("rag-port", "RAGCHAT_RAG_PORT", 8040, "dev RAG server port")
	dynamoPort := port("dynamodb-port", "RAGCHAT_DYNAMODB_PORT", 8000, "embedded DynamoDB port (a free one if taken)")
	envVars := fs.String("env-vars", "", "JSON file of environment overrides, in the format of sam local --env-vars")
	maxEnvs := fs.Int("max-envs", 10, "execution environments per function at most")
	dir := fs.String("dir", "", "repository root (default: nearest directory upwards with template.yaml)")
	fnOut := fs.Bool("function-output", true, "print the functions' output")
	if err := fs.Parse(args); err != nil {
		return stack.Options{}, err
	}
	if fs.NArg() > 0 {
		return stack.Options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for name, p := range map[string]int{"http-port": *httpPort, "ws-port": *wsPort, "rag-port": *ragPort, "dynamodb-port": *dynamoPort} {
		if p < 0 || p > 65535 {
			return stack.Options{}, fmt.Errorf("-%s %d: not a port", name, p)
		}
	}
	ragOpts, err := ragdev.OptionsFromEnv(getenv)
	if err != nil {
		return stack.Options{}, err
	}
	opts := stack.Options{
		Dir:             *dir,
		HTTPPort:        *httpPort,
		WSPort:          *wsPort,
		RAGPort:         *ragPort,
		DynamoPort:      *dynamoPort,
		RAGURL:          getenv("RAG_URL"),
		DynamoEndpoint:  getenv("AWS_ENDPOINT_URL_DYNAMODB"),
		Region:          firstNonEmpty(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")),
		TokenSecret:     getenv("TOKEN_SECRET"),
		MaxEnvironments: *maxEnvs,
		RAGDev:          ragOpts,
	}
	if opts.DynamoEndpoint != "" && getenv("AWS_ACCESS_KEY_ID") != "" {
		opts.Credentials = aws.Credentials{
			AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    getenv("AWS_SESSION_TOKEN"),
		}
	}
	if *envVars != "" {
		if opts.EnvVars, err = stack.LoadEnvVars(*envVars); err != nil {
			return stack.Options{}, err
		}
	}
	if *fnOut {
		opts.FunctionOutput = os.Stdout
	}
	return opts, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// printBanner prints the URLs, the demo users and a copy-paste try-it.
func printBanner(w io.Writer, st *stack.Stack) {
	u := st.URLs
	rag := u.RAG + "  (dev RAG; faults: PUT " + u.RAG + "/_faults, or \"#fault=stall-mid\" in a question)"
	if st.RAG == nil {
		rag = u.RAG + "  (RAG_URL)"
	}
	db := u.DynamoDB + "  (embedded, in memory; tables " + st.Tables.Users + ", ...)"
	if st.Dynamo == nil {
		db = u.DynamoDB + "  (AWS_ENDPOINT_URL_DYNAMODB; tables " + st.Tables.Users + ", ...)"
	}
	fmt.Fprintf(w, `
ragchat local stack is up

  Web chat       %s/
  Agent console  %s/agent   (agents below; claim waiting rooms, talk, release)
  HTTP API       %s
  WebSocket API  %s
  @connections   %s
  RAG            %s
  DynamoDB       %s

Demo users (company / id / password / role; AGENT users log in on the agent console):
`, u.HTTP, u.HTTP, u.HTTP, u.WebSocket, u.Connections, rag, db)
	for _, d := range stack.DemoUsers {
		fmt.Fprintf(w, "  %-8s %-8s %s   %-10s %s\n", d.CompanyID, d.UserID, d.Password, d.Role, d.UserName)
	}
	fmt.Fprintf(w, `
Try it (curl, jq and websocat; or "npx wscat -c" instead of websocat):

  TOKEN=$(curl -s -X POST %[1]s/api/customer/apt001/login \
    -H 'Content-Type: application/json' -d '{"id":"hong2","password":"1234"}' | jq -r .token)
  ROOM=$(curl -s -X POST %[1]s/api/customer/chatbot -H "Authorization: Bearer $TOKEN" | jq -r .roomId)
  websocat "%[2]s?token=$TOKEN&roomId=$ROOM"
  {"action":"sendMessage","message":"관리비는 언제까지 내야 하나요?","category1":"","category2":""}

Ctrl-C stops everything.

`, u.HTTP, u.WebSocket)
}
