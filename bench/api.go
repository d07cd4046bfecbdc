package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/auth"
)

// APIConfig is the warm request-latency experiment: Reps sequential
// requests of each kind after a warm-up.
type APIConfig struct {
	Reps int
}

// APIResult holds the latencies (ms) of each request kind, the bcrypt
// comparison alone, and the DynamoDB requests one of each made.
type APIResult struct {
	Config  APIConfig
	Latency map[string][]float64
	Bcrypt  []float64
	Dynamo  map[string]dynamo.Counts
	logical map[string]string
}

// Request kinds of the API experiment.
const (
	reqLogin   = "login (POST /api/customer/{companyId}/login)"
	reqRoom    = "room creation (POST /api/customer/chatbot)"
	reqConnect = "websocket handshake ($connect), then close ($disconnect)"
)

// RunAPI measures warm login, room creation and websocket handshake
// latencies through the stack's HTTP and WebSocket APIs, as a client sees
// them, and bcrypt's comparison at the production cost in this process.
func RunAPI(ctx context.Context, env *Env, cfg APIConfig) (*APIResult, error) {
	res := &APIResult{Config: cfg, Latency: map[string][]float64{}, Dynamo: map[string]dynamo.Counts{}, logical: env.Logical()}
	var token, room string
	kinds := []struct {
		name string
		do   func() error
	}{
		{reqLogin, func() (err error) {
			token, err = env.API.Login(ctx, "apt001", "hong2", "1234")
			return err
		}},
		{reqRoom, func() (err error) {
			room, err = env.API.CreateRoom(ctx, token)
			return err
		}},
		{reqConnect, func() error {
			c, err := wsclient.Dial(ctx, env.Stack.URLs.WebSocket, token, room)
			if err != nil {
				return err
			}
			c.Close()
			return nil
		}},
	}
	hash, err := auth.Production.Hash("1234")
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		for range 2 { // warm-up: the environments start
			if err := k.do(); err != nil {
				return nil, fmt.Errorf("warm-up %s: %w", k.name, err)
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // the warm-up's last $disconnect
	// Kinds interleaved, and a bcrypt comparison in this process after each
	// login, so that every series sees the same load of this shared machine.
	for i := range cfg.Reps {
		for _, k := range kinds {
			before := env.Stack.Dynamo.Counts()
			start := time.Now()
			if err := k.do(); err != nil {
				return nil, fmt.Errorf("%s: %w", k.name, err)
			}
			res.Latency[k.name] = append(res.Latency[k.name], ms(time.Since(start)))
			if i == 0 {
				// The $disconnect of the handshake runs after Close returned.
				time.Sleep(100 * time.Millisecond)
				res.Dynamo[k.name] = env.Stack.Dynamo.Counts().Sub(before)
			}
			if k.name == reqLogin {
				start := time.Now()
				if !auth.Production.Check(hash, "1234") {
					return nil, fmt.Errorf("bcrypt check failed")
				}
				res.Bcrypt = append(res.Bcrypt, ms(time.Since(start)))
			}
		}
	}
	return res, nil
}

// Table renders p50 / p99 of each request kind.
func (r *APIResult) Table() *Table {
	t := &Table{Header: []string{"request (warm)", "p50 ms", "p99 ms", "DynamoDB requests", "n"}}
	for _, k := range []string{reqLogin, reqRoom, reqConnect} {
		xs := r.Latency[k]
		t.Add(k, f1(Median(xs)), f1(Percentile(xs, 99)), fmt.Sprintf("%d: %s", r.Dynamo[k].Total(), callsString(r.Dynamo[k], r.logical)), len(xs))
	}
	t.Add(fmt.Sprintf("bcrypt compare alone, cost %d (in process)", auth.HashCost), f1(Median(r.Bcrypt)), f1(Percentile(r.Bcrypt, 99)), "-", len(r.Bcrypt))
	t.Add("login p50 minus bcrypt p50 (HTTP API, Lambda, DynamoDB, JWT)", f1(Median(r.Latency[reqLogin])-Median(r.Bcrypt)), "-", "-", "-")
	return t
}
