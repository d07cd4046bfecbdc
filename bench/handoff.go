package bench

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// HandoffConfig is the handoff experiment: Rooms rooms in handoff at once,
// each with its own customer and agent; Rounds claim/release rounds and
// Messages agent messages per room, all rooms at once, after one warm-up
// round that is not recorded (it starts the functions' environments).
type HandoffConfig struct {
	Rooms    int
	Rounds   int
	Messages int
}

// HandoffResult holds the latencies (ms) as the customer's socket saw them:
// from sending an agent's claim to the customer's AGENT status frame, and
// from the agent's sendMessage to the customer's message frame.
type HandoffResult struct {
	Config  HandoffConfig
	Claim   []float64
	Message []float64
}

// handoffPair is one room in handoff: its customer's and its agent's
// sockets, and the agent's token.
type handoffPair struct {
	room           string
	agentToken     string
	customer, agnt *wsclient.Conn
}

// RunHandoff measures the handoff paths through the stack: the agent
// function's status frames and the message function's relay of agent
// messages, with cfg.Rooms rooms in handoff at once.
func RunHandoff(ctx context.Context, env *Env, cfg HandoffConfig, log io.Writer) (*HandoffResult, error) {
	pairs, err := setupHandoff(ctx, env, cfg.Rooms)
	defer func() {
		for _, p := range pairs {
			for _, c := range []*wsclient.Conn{p.customer, p.agnt} {
				if c != nil {
					c.Close()
				}
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "  %d rooms waiting for an agent\n", len(pairs))
	res := &HandoffResult{Config: cfg}
	var mu sync.Mutex
	err = parallel(cfg.Rooms, len(pairs), func(i int) error {
		p := pairs[i]
		for round := range cfg.Rounds + 1 {
			record := func(xs *[]float64, x float64) {
				if round == 0 {
					return // warm-up
				}
				mu.Lock()
				*xs = append(*xs, x)
				mu.Unlock()
			}
			start := time.Now()
			if err := agentPost(ctx, env.API, p.agentToken, p.room, "claim"); err != nil {
				return err
			}
			f, err := nextOf(ctx, p.customer, wsclient.TypeStatus)
			if err != nil {
				return err
			}
			if f.Status != store.RoomStatusAgent {
				return fmt.Errorf("room %s: status %s after a claim", p.room, f.Status)
			}
			record(&res.Claim, ms(f.At.Sub(start)))
			if _, err := nextOf(ctx, p.agnt, wsclient.TypeStatus); err != nil {
				return err
			}
			for m := range cfg.Messages {
				text := fmt.Sprintf("상담원 메시지 %d-%d입니다.", round, m)
				start := time.Now()
				if err := p.agnt.Send(ctx, wsclient.Question(text)); err != nil {
					return err
				}
				f, err := nextOf(ctx, p.customer, wsclient.TypeMessage)
				if err != nil {
					return err
				}
				if f.Text != text || f.Role != store.RoleAgent {
					return fmt.Errorf("room %s: message frame %s, want the agent's %q", p.room, f.Raw, text)
				}
				record(&res.Message, ms(f.At.Sub(start)))
			}
			if err := agentPost(ctx, env.API, p.agentToken, p.room, "release"); err != nil {
				return err
			}
			for _, c := range []*wsclient.Conn{p.customer, p.agnt} {
				if _, err := nextOf(ctx, c, wsclient.TypeStatus); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	return res, nil
}

// setupHandoff creates n customers and n agents of apt001, opens a room
// per customer, connects both to it and asks for a person in each.
func setupHandoff(ctx context.Context, env *Env, n int) ([]handoffPair, error) {
	hash, err := auth.Production.Hash(benchPassword)
	if err != nil {
		return nil, err
	}
	st := store.New(env.Stack.DB, env.Stack.Tables)
	pairs := make([]handoffPair, n)
	err = parallel(8, n, func(i int) error {
		cust, agent := fmt.Sprintf("bench-cust-%02d", i), fmt.Sprintf("bench-agent-%02d", i)
		for _, u := range []store.User{
			{CompanyID: "apt001", UserID: cust, UserName: fmt.Sprintf("고객-%02d", i), Role: store.UserRoleCustomer},
			{CompanyID: "apt001", UserID: agent, UserName: fmt.Sprintf("상담원-%02d", i), Role: store.UserRoleAgent},
		} {
			u.PasswordHash, u.CreatedAt = hash, time.Now().UnixMilli()
			if err := st.PutUser(ctx, u); err != nil {
				return err
			}
		}
		custToken, err := env.API.Login(ctx, "apt001", cust, benchPassword)
		if err != nil {
			return err
		}
		agentToken, err := env.API.login(ctx, "agent", "apt001", agent, benchPassword)
		if err != nil {
			return err
		}
		room, err := env.API.CreateRoom(ctx, custToken)
		if err != nil {
			return err
		}
		p := &pairs[i]
		p.room, p.agentToken = room, agentToken
		if p.customer, err = wsclient.Dial(ctx, env.Stack.URLs.WebSocket, custToken, room); err != nil {
			return err
		}
		if p.agnt, err = wsclient.Dial(ctx, env.Stack.URLs.WebSocket, agentToken, room); err != nil {
			return err
		}
		if err := p.customer.Send(ctx, []byte(`{"action":"handoff"}`)); err != nil {
			return err
		}
		for _, c := range []*wsclient.Conn{p.customer, p.agnt} {
			if f, err := nextOf(ctx, c, wsclient.TypeStatus); err != nil || f.Status != store.RoomStatusWaiting {
				return fmt.Errorf("room %s: %v after a handoff (%v)", room, f.Status, err)
			}
		}
		return nil
	})
	return pairs, err
}

// benchPassword is the password of the users the bench creates.
const benchPassword = "bench-1234"

// agentPost runs an agent route (claim, release, close) on room.
func agentPost(ctx context.Context, api API, token, room, action string) error {
	var out struct {
		Status string `json:"status"`
	}
	if err := api.post(ctx, "/api/agent/rooms/"+url.PathEscape(room)+"/"+action, token, nil, &out); err != nil {
		return fmt.Errorf("%s %s: %w", action, room, err)
	}
	return nil
}

// nextOf returns c's next frame of type typ within 30 s, skipping frames of
// other types (a client ignores what it does not wait for).
func nextOf(ctx context.Context, c *wsclient.Conn, typ string) (wsclient.Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		f, err := c.Next(ctx)
		if err != nil {
			return wsclient.Frame{}, fmt.Errorf("waiting for a %s frame: %w", typ, err)
		}
		if f.Type == typ {
			return f, nil
		}
	}
}

// Table renders p50 / p99 of both paths.
func (r *HandoffResult) Table() *Table {
	t := &Table{Header: []string{"path (as the customer's socket sees it)", "p50 ms", "p99 ms", "n"}}
	t.Add("claim (POST .../claim) -> the customer's `status` frame (AGENT)", f1(Median(r.Claim)), f1(Percentile(r.Claim, 99)), len(r.Claim))
	t.Add("agent's sendMessage -> the customer's `message` frame", f1(Median(r.Message)), f1(Percentile(r.Message, 99)), len(r.Message))
	return t
}
