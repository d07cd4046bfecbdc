// Command bootstrap is a Lambda function for the pool's tests. Its event
// {"op": ..., "arg": ...} selects what it does; TEST_INIT selects a failing
// init phase.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Op  string `json:"op"`
	Arg string `json:"arg"`
}

type reply struct {
	Op         string            `json:"op"`
	Arg        string            `json:"arg,omitempty"`
	PID        int               `json:"pid"`
	Env        map[string]string `json:"env,omitempty"`
	DeadlineMs int64             `json:"deadlineMs,omitempty"`
	ARN        string            `json:"arn,omitempty"`
	RequestID  string            `json:"requestId,omitempty"`
}

type customError struct{ msg string }

func (e *customError) Error() string { return e.msg }

func handle(ctx context.Context, ev event) (reply, error) {
	r := reply{Op: ev.Op, Arg: ev.Arg, PID: os.Getpid()}
	switch ev.Op {
	case "echo":
	case "env":
		r.Env = map[string]string{}
		for _, k := range strings.Split(ev.Arg, ",") {
			if v, ok := os.LookupEnv(k); ok {
				r.Env[k] = v
			}
		}
	case "context":
		d, _ := ctx.Deadline()
		r.DeadlineMs = d.UnixMilli()
		lc, _ := lambdacontext.FromContext(ctx)
		r.ARN = lc.InvokedFunctionArn
		r.RequestID = lc.AwsRequestID
	case "error":
		return r, &customError{msg: ev.Arg}
	case "panic":
		panic(ev.Arg)
	case "exit":
		os.Exit(3)
	case "sleep":
		d, err := time.ParseDuration(ev.Arg)
		if err != nil {
			return r, err
		}
		time.Sleep(d)
	case "get":
		resp, err := http.Get(ev.Arg)
		if err != nil {
			return r, err
		}
		resp.Body.Close()
	case "big":
		return reply{Op: ev.Op, Arg: strings.Repeat("x", 7<<20)}, nil
	case "print":
		fmt.Println("stdout: " + ev.Arg)
		fmt.Fprint(os.Stderr, "stderr: "+ev.Arg+"\n")
	default:
		return r, errors.New("unknown op " + ev.Op)
	}
	return r, nil
}

func main() {
	switch os.Getenv("TEST_INIT") {
	case "error":
		api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
		body := strings.NewReader(`{"errorMessage":"config missing","errorType":"InitFailure"}`)
		resp, err := http.Post("http://"+api+"/2018-06-01/runtime/init/error", "application/json", body)
		if err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	case "exit":
		fmt.Fprintln(os.Stderr, "init failed")
		os.Exit(2)
	case "hang":
		time.Sleep(time.Hour)
	}
	lambda.Start(handle)
}
