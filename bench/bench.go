// Package bench is ragchat's benchmark suite (`make bench`): it starts the
// local stack with the real function processes, replaces its RAG service
// with a recording one, and measures the relay against a one-post-per-delta
// baseline, the cost per answer on AWS, cold starts, DynamoDB requests,
// many concurrent streams and the HTTP API's latency. It prints figures
// (Markdown tables) with the targets of issue 4 and pass/MISS marks; it
// asserts nothing.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config selects the experiments and their sizes.
type Config struct {
	Quick       bool
	Root        string
	Sections    map[string]bool // nil runs every section
	Relay       RelayConfig
	Cold        ColdConfig
	Concurrency []ConcConfig // one run per entry, in order
	API         APIConfig
	Handoff     HandoffConfig
	Throttle    ThrottleConfig
	Conv        ConversationConfig
}

// Sections, in the order they run.
var Sections = []string{"go", "relay", "cost", "dynamo", "api", "cold", "concurrency", "handoff", "throttle", "conversation"}

// DefaultConfig is the full run (quick=false) or the short one CI uses.
func DefaultConfig(root string, quick bool) Config {
	if quick {
		return Config{
			Quick: true, Root: root,
			Relay:       RelayConfig{Deltas: 25, Pace: 20 * time.Millisecond, LatencyMs: []int{0, 10, 30, 100}, Reps: 1},
			Cold:        ColdConfig{Reps: 4},
			Concurrency: []ConcConfig{{Clients: 20, Questions: 3, Pace: 10 * time.Millisecond, Ramp: 500 * time.Millisecond}},
			API:         APIConfig{Reps: 6},
			Handoff:     HandoffConfig{Rooms: 20, Rounds: 1, Messages: 5},
			Throttle:    ThrottleConfig{Clients: 20, Questions: 1, Rates: []float64{0, 0.1, 0.3}, Pace: 10 * time.Millisecond},
			Conv:        ConversationConfig{Joins: 3, HistoryMessages: 1000, HistoryReps: 10},
		}
	}
	return Config{
		Root:  root,
		Relay: RelayConfig{Deltas: 200, Pace: 20 * time.Millisecond, LatencyMs: []int{0, 10, 30, 100}, Reps: 5},
		Cold:  ColdConfig{Reps: 20, Arm64: true},
		Concurrency: []ConcConfig{
			{Clients: 20, Questions: 3, Pace: 10 * time.Millisecond, Ramp: time.Second},
			{Clients: 50, Questions: 3, Pace: 10 * time.Millisecond, Ramp: time.Second},
			{Clients: 200, Questions: 3, Pace: 10 * time.Millisecond, Ramp: time.Second},
		},
		API:      APIConfig{Reps: 50},
		Handoff:  HandoffConfig{Rooms: 20, Rounds: 3, Messages: 10},
		Throttle: ThrottleConfig{Clients: 20, Questions: 3, Rates: []float64{0, 0.1, 0.3}, Pace: 10 * time.Millisecond},
		Conv:     ConversationConfig{Joins: 20, HistoryMessages: 1000, HistoryReps: 50},
	}
}

func (c Config) on(section string) bool { return c.Sections == nil || c.Sections[section] }

// Run runs the selected experiments and writes the report to out (Markdown)
// and progress lines to log.
func Run(ctx context.Context, cfg Config, out, log io.Writer) error {
	started := time.Now()
	prog := &progress{w: log}
	mode := "full"
	if cfg.Quick {
		mode = "quick (BENCH_QUICK=1)"
	}
	fmt.Fprintf(out, "# ragchat benchmarks\n\n")
	fmt.Fprintf(out, "- command: `make bench` (%s mode)\n", mode)
	fmt.Fprintf(out, "- date: %s\n", started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "- machine: %s\n\n", machine())
	// Sections run in the order that suits the measurements and print in
	// the order, also when a later one fails.
	var secs report
	defer secs.flush(out)

	if cfg.on("go") {
		prog.phase("Go benchmarks of the relay path")
		fmt.Fprintf(secs.at(7), "## 7. Allocations per delta in the relay path (Go benchmarks)\n\n%s\n", GoBenchmarks(log))
	}
	if !slices.ContainsFunc(Sections[1:], cfg.on) {
		return nil
	}
	prog.phase("building the functions and starting the local stack")
	envStart := time.Now()
	env, err := NewEnv(ctx, EnvOptions{Root: cfg.Root, MaxEnvironments: cfg.maxEnvironments()})
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(log, "  stack up in %.1f s\n", time.Since(envStart).Seconds())

	r := &run{ctx: ctx, cfg: cfg, env: env, secs: &secs, prog: prog, log: log}
	for _, step := range []struct {
		sections []string // the step runs when one of these is on
		run      func() error
	}{
		{[]string{"relay", "cost", "dynamo"}, r.relay},
		{[]string{"api"}, r.api},
		{[]string{"cold"}, r.cold},
		{[]string{"concurrency"}, r.concurrency},
		{[]string{"handoff"}, r.handoff},
		{[]string{"throttle"}, r.throttle},
		{[]string{"conversation"}, r.conversation},
	} {
		if !slices.ContainsFunc(step.sections, cfg.on) {
			continue
		}
		if err := step.run(); err != nil {
			return err
		}
	}
	prog.phase("done")
	fmt.Fprintf(secs.at(12), "Total bench time: %.0f s.\n", time.Since(started).Seconds())
	return nil
}

// maxEnvironments is the stack's environment limit: enough for the
// largest concurrency run.
func (cfg Config) maxEnvironments() int {
	n := 10
	if cfg.on("concurrency") {
		for _, c := range cfg.Concurrency {
			n = max(n, c.Clients+5)
		}
	}
	if cfg.on("throttle") {
		n = max(n, cfg.Throttle.Clients+5)
	}
	return n
}

// run is one bench run on a started stack; each method measures and
// writes the sections it is for (Run calls it when one of them is on).
type run struct {
	ctx  context.Context
	cfg  Config
	env  *Env
	secs *report
	prog *progress
	log  io.Writer
}

// relay measures the relay overhead, which sections 1 (relay), 2 (cost)
// and 4 (DynamoDB requests) read.
func (r *run) relay() error {
	cfg, env := r.cfg, r.env
	r.prog.phase("relay overhead")
	relay, err := RunRelay(r.ctx, env, cfg.Relay, r.log)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	if cfg.on("relay") {
		rc := cfg.Relay
		fmt.Fprintf(r.secs.at(1), "## 1. Relay overhead\n\n")
		fmt.Fprintf(r.secs.at(1), "A scripted RAG answer of %d Korean deltas, %s apart, through the real MessageFunction process "+
			"(coalescing relay, MIN_FRAME_INTERVAL=%s as the template sets it) and through the one-post-per-delta baseline "+
			"process, to one websocket client; "+
			"the @connections endpoint delays every post by the given latency. Medians of %d runs per cell, relays alternating. "+
			"Targets: overheads <= post latency + 10 ms; calls <= stream duration / post latency + 2. "+
			"Function CPU: user + system time of the function's processes during the answer (10 ms ticks).\n\n%s\n",
			rc.Deltas, rc.Pace, env.Stack.FunctionEnv("MessageFunction")["MIN_FRAME_INTERVAL"], rc.Reps, relay.Table())
	}
	if cfg.on("cost") {
		fmt.Fprintf(r.secs.at(2), "## 2. Cost per 1,000 answers on AWS\n\n%s\n", ListPrices.Describe())
		fmt.Fprintf(r.secs.at(2), "Counts per answer are the medians measured above: API Gateway messages = 1 question + the frames delivered "+
			"(each under 32 KB); connection minutes = the answer's duration at the client; Lambda = the billed duration of the "+
			"invocation at the template's MemorySize (%d MB) on arm64, plus the request; DynamoDB = the requests counted at "+
			"the embedded endpoint, turned into request units with the measured item sizes (strongly consistent GetItem, "+
			"eventually consistent index Query, writes also charged per GSI). Login, room creation, connect and disconnect are "+
			"per session, not per answer, and left out.\n\n%s\n",
			env.Template["MessageFunction"].MemorySize, relay.CostTable(ListPrices))
	}
	if cfg.on("dynamo") {
		writeDynamo(r.secs.at(4), relay, cfg.Root)
	}
	return nil
}

// api measures login, room creation and handshake latency (section 6).
func (r *run) api() error {
	r.prog.phase("login, room creation and handshake latency")
	api, err := RunAPI(r.ctx, r.env, r.cfg.API)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	fmt.Fprintf(r.secs.at(6), "## 6. Login and room creation latency (warm)\n\n"+
		"Sequential requests through the local HTTP API (real function processes, embedded DynamoDB) after two warm-up "+
		"requests each; the bcrypt row is one comparison in the bench process.\n\n%s\n", api.Table())
	return nil
}

// cold measures the functions' sizes and cold starts (section 3).
func (r *run) cold() error {
	cfg := r.cfg
	r.prog.phase("cold start")
	cold, err := RunColdStart(r.ctx, r.env, cfg.Cold, r.log)
	if err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	fns, steps := cold.Tables()
	how := "built exactly as `sam build` does (`make build-<LogicalId> GOOS=linux GOARCH=arm64 ARTIFACTS_DIR=...`)"
	if !cfg.Cold.Arm64 {
		how = "sizes of the host builds (quick mode skips the arm64 builds)"
	}
	fmt.Fprintf(r.secs.at(3), "## 3. Cold start\n\n"+
		"Sizes: %s. Times: the host build of each function exec'd with the Lambda environment variables and its template "+
		"environment, pointed at a minimal Runtime API; time from exec to its first `next` request, %d runs each. "+
		"TOKEN_SECRET_ARN runs fetch the secret from a local fake Secrets Manager (AWS_ENDPOINT_URL_SECRETS_MANAGER), so "+
		"they show the SDK work of the call, not AWS's network latency. Package init: GODEBUG=inittrace=1.\n\n%s\n"+
		"Init itemised by a probe (bench/cmd/initprobe) doing the login function's init steps:\n\n%s\n",
		how, cfg.Cold.Reps, fns, steps)
	return nil
}

// concurrency runs every concurrency configuration (section 5).
func (r *run) concurrency() error {
	fmt.Fprintf(r.secs.at(5), "## 5. Concurrency\n\n"+
		"Websocket clients on the local stack, each in a room of its own, each asking its questions one after the "+
		"other (starting at random times within the ramp); the dev RAG server (local/ragdev) streams its apartment-FAQ "+
		"answers at a fixed pace, behind the recorder that stamps each delta. Every environment, the stack and the "+
		"clients share this machine's CPUs.\n\n")
	for _, cc := range r.cfg.Concurrency {
		r.prog.phase(fmt.Sprintf("concurrency, %d clients", cc.Clients))
		conc, err := RunConcurrency(r.ctx, r.env, cc, r.log)
		if err != nil {
			return fmt.Errorf("concurrency: %w", err)
		}
		fmt.Fprintf(r.secs.at(5), "### %d clients\n\n%s\n%s\n", cc.Clients, conc.Summary(), conc.Table())
	}
	return nil
}

// handoff measures handoff latency (section 9).
func (r *run) handoff() error {
	hc := r.cfg.Handoff
	r.prog.phase(fmt.Sprintf("handoff, %d rooms", hc.Rooms))
	ho, err := RunHandoff(r.ctx, r.env, hc, r.log)
	if err != nil {
		return fmt.Errorf("handoff: %w", err)
	}
	fmt.Fprintf(r.secs.at(9), "## 9. Handoff latency\n\n"+
		"%d rooms in handoff at once, each with its own customer and agent socket on the local stack (real AgentFunction "+
		"and MessageFunction processes, embedded DynamoDB). All rooms at once: the agent claims (HTTP), then sends %d "+
		"messages one after the other, then releases; %d rounds after one warm-up round. Times from the request leaving the bench to the frame "+
		"arriving on the customer's socket.\n\n%s\n", hc.Rooms, hc.Messages, hc.Rounds, ho.Table())
	return nil
}

// conversation measures joining mid-answer, the 4-second answer's DynamoDB
// budget and history reads (section 11).
func (r *run) conversation() error {
	cc := r.cfg.Conv
	r.prog.phase(fmt.Sprintf("conversation: %d joins, history of %d messages", cc.Joins, cc.HistoryMessages))
	res, err := RunConversation(r.ctx, r.env, cc, r.log)
	if err != nil {
		return fmt.Errorf("conversation: %w", err)
	}
	lat, calls := res.Tables()
	total := res.Answer.Total()
	fmt.Fprintf(r.secs.at(11), "## 11. Conversations: joining mid-answer, the 4-second answer's budget, history reads\n\n"+
		"On the local stack (real MessageFunction and HistoryFunction processes, embedded DynamoDB). A socket joins while "+
		"a 2-second answer streams (%d times); one answer of 40 deltas 100 ms apart (%.1f s from the question to its "+
		"ending) asked with a clientMessageId; history pages of 50 read over HTTP from a room of %d messages.\n\n%s\n"+
		"The 4-second answer: %d DynamoDB requests (target <= %d: %s), about %s RRU and %s WRU (item sizes measured, "+
		"as in section 2):\n\n%s\n", cc.Joins, res.AnswerMs/1000, cc.HistoryMessages, lat, total, answerBudget, mark(total <= answerBudget),
		f1(res.RRU), f1(res.WRU), calls)
	return nil
}

// throttle measures answers under @connections throttling (section 10).
func (r *run) throttle() error {
	tc := r.cfg.Throttle
	r.prog.phase(fmt.Sprintf("429 throttling, %d clients", tc.Clients))
	runs, err := RunThrottle(r.ctx, r.env, tc, r.log)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	fmt.Fprintf(r.secs.at(10), "## 10. Answers under @connections throttling (429)\n\n"+
		"%d websocket clients on the local stack, each in a room of its own, each asking %d question(s) one after the "+
		"other, all at once, while the @connections emulator answers a share of all posts with 429 "+
		"LimitExceededException (`PUT /{stage}/@faults {\"status\":429,\"rate\":…}`; a 429 delivers nothing). The relay "+
		"rebuilds a throttled frame with what arrived since and retries with backoff capped at 1 s for as long as the "+
		"answer's time allows. Completion overhead: from the RAG service's last event to the client's terminal frame. "+
		"Billed: the local Lambda pool's REPORT lines of the MessageFunction invocations. Figures, not assertions.\n\n%s\n",
		tc.Clients, tc.Questions, ThrottleTable(runs))
	return nil
}

// report holds the sections' text by number.
type report struct {
	parts [13]strings.Builder
}

func (r *report) at(n int) io.Writer { return &r.parts[n] }

func (r *report) flush(out io.Writer) {
	for i := range r.parts {
		_, _ = io.WriteString(out, r.parts[i].String())
	}
}

// progress logs the sections as they start, each with the time the
// previous one took.
type progress struct {
	w    io.Writer
	last time.Time
}

func (p *progress) phase(name string) {
	now := time.Now()
	if !p.last.IsZero() {
		fmt.Fprintf(p.w, "  (%.1f s)\n", now.Sub(p.last).Seconds())
	}
	p.last = now
	fmt.Fprintln(p.w, name)
}

// answerBudget is issue 10's budget of DynamoDB requests for a 4-second
// answer, the target of sections 4 and 11.
const answerBudget = 10

// writeDynamo prints the DynamoDB requests of one answer and the Scan
// check.
func writeDynamo(out io.Writer, relay *RelayResult, root string) {
	var totals []float64
	var sample *RelayRun
	for i, run := range relay.Runs {
		if run.Relay != Coalescing {
			continue
		}
		totals = append(totals, float64(run.Dynamo.Total()))
		if sample == nil {
			sample = &relay.Runs[i]
		}
	}
	med := Median(totals)
	fmt.Fprintf(out, "## 4. DynamoDB requests per question\n\n"+
		"Counted at the embedded DynamoDB endpoint around each question of the relay runs (MessageFunction): "+
		"median %s requests per question (min %s, max %s over %d questions; each a 4-second answer), target <= %d "+
		"(issue 10's budget: the answer item from its first frame, lookups of the room's connections while it streams): %s. One question:\n\n%s\n",
		f1(med), f1(slices.Min(totals)), f1(slices.Max(totals)), len(totals), answerBudget, mark(med <= answerBudget && slices.Max(totals) <= answerBudget),
		countsTable(sample.Dynamo, relay.Items.Logical))
	hits, files, err := FindScans(root)
	switch {
	case err != nil:
		fmt.Fprintf(out, "Scan check failed: %v\n\n", err)
	case len(hits) == 0:
		fmt.Fprintf(out, "No Scan: %d non-test Go files parsed, no `Scan(ctx, …)` call and no `dynamodb.ScanInput` / "+
			"`dynamodb.NewScanPaginator` anywhere: pass.\n\n", files)
	default:
		fmt.Fprintf(out, "Scan found in %d places (%d files parsed): MISS\n\n", len(hits), files)
		for _, h := range hits {
			fmt.Fprintf(out, "- %s: %s\n", h.Pos, h.What)
		}
		fmt.Fprintln(out)
	}
}

// machine describes this machine: CPUs, CPU model, Go, load.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					mem = fmt.Sprintf(", %.0f GiB RAM", math.Round(kb/1024/1024))
				}
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s, %s %s/%s, load average at start %s",
		runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}
