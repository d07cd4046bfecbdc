package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/ragchat/ragchat/internal/procfs"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/local/wsapi"
)

// RelayConfig is the relay-overhead experiment: one client, a scripted
// answer of Deltas Korean deltas Pace apart, each @connections latency in
// LatencyMs, Reps repetitions, both relays side by side.
type RelayConfig struct {
	Deltas    int
	Pace      time.Duration
	LatencyMs []int
	Reps      int
}

// Relay names.
const (
	Coalescing = "coalescing"
	Baseline   = "one-post-per-delta"
)

// relaySide is one relay under test: its WebSocket API, the function
// behind sendMessage, and a client connected to a room of its own.
type relaySide struct {
	name string
	ws   *wsapi.Server
	fn   string
	room string
	conn *wsclient.Conn
}

// RelayRun is one answer through one relay.
type RelayRun struct {
	Relay      string
	LatencyMs  int
	FirstMs    float64 // first text frame received - first delta emitted
	CompleteMs float64 // terminal frame received - RAG stream end
	StreamMs   float64 // RAG request received - RAG stream end
	ClientMs   float64 // question sent - terminal frame received
	Posts      int     // PostToConnection calls
	Frames     int     // frames delivered
	FrameBytes int64   // bytes delivered
	BilledMs   int     // the invocation's billed duration
	MemoryMB   int     // the function's memory size
	CPUMs      float64 // CPU time the function's processes used (10 ms ticks)
	Check      Check
	Dynamo     dynamo.Counts
}

// RelayResult is the relay experiment's runs, plus what the cost and
// DynamoDB sections need.
type RelayResult struct {
	Config RelayConfig
	Runs   []RelayRun
	Items  ItemSizes
}

// RunRelay measures both relays on env, alternating them for every
// latency of every repetition.
func RunRelay(ctx context.Context, env *Env, cfg RelayConfig, log io.Writer) (*RelayResult, error) {
	token, err := env.API.Login(ctx, "apt001", "hong2", "1234")
	if err != nil {
		return nil, err
	}
	sides := []*relaySide{
		{name: Coalescing, ws: env.Stack.WS, fn: "MessageFunction"},
		{name: Baseline, ws: env.Baseline, fn: BaselineFunction},
	}
	urls := map[string]string{Coalescing: env.Stack.URLs.WebSocket, Baseline: env.BaseWSURL}
	for _, s := range sides {
		if s.room, err = env.API.CreateRoom(ctx, token); err != nil {
			return nil, err
		}
		if s.conn, err = wsclient.Dial(ctx, urls[s.name], token, s.room); err != nil {
			return nil, err
		}
		defer s.conn.Close()
	}
	env.RAG.SetBackend(Script{Deltas: ScriptedAnswer(cfg.Deltas), Pace: cfg.Pace})
	defer func() {
		for _, s := range sides {
			_ = s.ws.SetFaults(wsapi.Faults{})
		}
	}()

	// Warm-up: the first question of each relay starts its function.
	for _, s := range sides {
		if _, err := relayOnce(ctx, env, s, 0); err != nil {
			return nil, fmt.Errorf("warm-up %s: %w", s.name, err)
		}
	}
	res := &RelayResult{Config: cfg}
	for rep := range cfg.Reps {
		for _, lat := range cfg.LatencyMs {
			for _, s := range sides {
				run, err := relayOnce(ctx, env, s, lat)
				if err != nil {
					return nil, fmt.Errorf("%s at %d ms: %w", s.name, lat, err)
				}
				res.Runs = append(res.Runs, run)
				fmt.Fprintf(log, "  relay rep %d/%d %-18s latency %3d ms: first %6.1f ms, complete %7.1f ms, %3d posts\n",
					rep+1, cfg.Reps, s.name, lat, run.FirstMs, run.CompleteMs, run.Posts)
			}
		}
	}
	res.Items, err = measureItems(ctx, env, sides[0].room)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// relayOnce asks one question through s with the given post latency.
func relayOnce(ctx context.Context, env *Env, s *relaySide, latencyMs int) (RelayRun, error) {
	run := RelayRun{Relay: s.name, LatencyMs: latencyMs}
	if err := s.ws.SetFaults(wsapi.Faults{LatencyMs: latencyMs}); err != nil {
		return run, fmt.Errorf("set latency: %w", err)
	}
	s.ws.ResetStats()
	reports := env.Reports.Count(s.fn)
	before := env.Stack.Dynamo.Counts()
	bootstrap := "/" + s.fn + "/bootstrap"
	cpu0, err := procfs.ChildrenCPU(bootstrap)
	if err != nil {
		return run, err
	}

	ans, err := ask(ctx, s.conn, "관리비는 언제 내나요?", 90*time.Second)
	if err != nil {
		return run, fmt.Errorf("%w (function output: %q)", err, env.Reports.Tail())
	}
	em, err := env.RAG.Take(s.room, 10*time.Second)
	if err != nil {
		return run, err
	}
	rep, ok := env.Reports.WaitAfter(s.fn, reports, 60*time.Second)
	if !ok {
		return run, fmt.Errorf("no REPORT line from %s", s.fn)
	}
	st := s.ws.Stats()
	run.Dynamo = env.Stack.Dynamo.Counts().Sub(before)
	cpu1, err := procfs.ChildrenCPU(bootstrap)
	if err != nil {
		return run, err
	}
	for pid, d := range cpu1 {
		run.CPUMs += ms(d - cpu0[pid])
	}

	first, err := firstText(ans.Answer)
	if err != nil {
		return run, err
	}
	last := ans.Frames[len(ans.Frames)-1]
	run.FirstMs = ms(first.At.Sub(em.FirstDelta))
	run.CompleteMs = ms(last.At.Sub(em.End))
	run.StreamMs = ms(em.End.Sub(em.Started))
	run.ClientMs = ms(last.At.Sub(ans.Sent))
	run.Posts = int(st.Posts)
	run.Frames = int(st.Delivered)
	run.FrameBytes = st.Bytes
	run.BilledMs = rep.BilledMs
	run.MemoryMB = rep.MemoryMB
	run.Check = Verify(ans.Answer, em.Text)
	if !run.Check.Complete {
		return run, fmt.Errorf("answer ended with %q, not complete", last.Type)
	}
	return run, nil
}

// relayCell aggregates the runs of one relay at one latency.
type relayCell struct {
	first, complete, stream, client, posts, frames, bytesPerFrame, billed, cpu []float64
	differs                                                                    int
	memoryMB                                                                   int
	dynamo                                                                     dynamo.Counts
}

func (r *RelayResult) cell(relay string, latency int) relayCell {
	var c relayCell
	for _, run := range r.Runs {
		if run.Relay != relay || run.LatencyMs != latency {
			continue
		}
		c.first = append(c.first, run.FirstMs)
		c.complete = append(c.complete, run.CompleteMs)
		c.stream = append(c.stream, run.StreamMs)
		c.client = append(c.client, run.ClientMs)
		c.posts = append(c.posts, float64(run.Posts))
		c.frames = append(c.frames, float64(run.Frames))
		c.bytesPerFrame = append(c.bytesPerFrame, float64(run.FrameBytes)/float64(max(run.Frames, 1)))
		c.billed = append(c.billed, float64(run.BilledMs))
		c.cpu = append(c.cpu, run.CPUMs)
		if run.Check.Differs {
			c.differs++
		}
		c.memoryMB = run.MemoryMB
		c.dynamo = run.Dynamo
	}
	return c
}

// Table is the relay-overhead table: medians per relay and latency, with
// the targets and their verdicts.
func (r *RelayResult) Table() *Table {
	t := &Table{Header: []string{"post latency", "relay", "first-delta overhead ms", "completion overhead ms",
		"target ms", "PostToConnection calls", "calls target", "bytes/frame", "function CPU ms", "not byte-exact", "runs"}}
	for _, lat := range r.Config.LatencyMs {
		for _, relay := range []string{Coalescing, Baseline} {
			c := r.cell(relay, lat)
			first, complete, posts := Median(c.first), Median(c.complete), Median(c.posts)
			target := float64(lat) + 10
			callsTarget := math.Inf(1)
			callsCell := "∞ (no latency)"
			if lat > 0 {
				callsTarget = Median(c.stream)/float64(lat) + 2
				callsCell = fmt.Sprintf("<= %.0f", callsTarget)
			}
			t.Add(fmt.Sprintf("%d ms", lat), relay,
				fmt.Sprintf("%s %s", f1(first), mark(first <= target)),
				fmt.Sprintf("%s %s", f1(complete), mark(complete <= target)),
				fmt.Sprintf("<= %.0f", target),
				fmt.Sprintf("%.0f %s", posts, mark(posts <= callsTarget)),
				callsCell,
				f1(Median(c.bytesPerFrame)),
				f1(Median(c.cpu)),
				c.differs,
				len(c.first))
		}
	}
	return t
}
