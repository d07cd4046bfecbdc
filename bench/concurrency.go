package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ragchat/ragchat/internal/procfs"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/ragdev"
	"github.com/ragchat/ragchat/local/stack"
	"github.com/ragchat/ragchat/shared/store"
)

// ConcConfig is the concurrency experiment: Clients websocket clients,
// each in a room of its own, each asking Questions questions one after the
// other, starting at random times within Ramp; the dev RAG server streams
// its answers at Pace.
type ConcConfig struct {
	Clients   int
	Questions int
	Pace      time.Duration
	Ramp      time.Duration
}

// concQuestions are apartment-FAQ questions the dev RAG server answers.
var concQuestions = []string{
	"관리비는 언제까지 내야 하나요?",
	"입주민 차량 주차 등록은 어떻게 하나요?",
	"분리수거는 언제 어디에 하나요?",
	"방문 차량은 어떻게 등록하나요?",
	"관리비가 연체되면 어떻게 되나요?",
}

// ConcAnswer is one answer of the concurrency experiment.
type ConcAnswer struct {
	Question   int // 0 for a client's first question
	FirstMs    float64
	CompleteMs float64
	Frames     int
	Check      Check
	Err        error
}

// ConcResult is the concurrency experiment's outcome.
type ConcResult struct {
	Config   ConcConfig
	Answers  []ConcAnswer
	Duration time.Duration
	// StackPeakKB is the peak resident memory (VmHWM) of this process, which
	// runs the stack and the clients, since the experiment began.
	StackPeakKB int
	// EnvPeakKB holds the VmHWM of every MessageFunction environment.
	EnvPeakKB []float64
	Posts     int64
	// StackCPU is the CPU time this process used while the questions ran,
	// EnvCPU that of the MessageFunction environments.
	StackCPU, EnvCPU time.Duration
}

// messageBootstrap is how the MessageFunction environments' executable
// path ends.
const messageBootstrap = "/MessageFunction/bootstrap"

// RunConcurrency runs the concurrency experiment on env.
func RunConcurrency(ctx context.Context, env *Env, cfg ConcConfig, log io.Writer) (*ConcResult, error) {
	if err := procfs.ResetPeakRSS(); err != nil {
		return nil, err
	}
	env.Stack.WS.ResetStats()
	setupStart := time.Now()
	var res *ConcResult
	err := withClients(ctx, env, cfg.Clients, cfg.Pace, func(clients []concClient) (err error) {
		fmt.Fprintf(log, "  %d clients connected in %.1f s\n", cfg.Clients, time.Since(setupStart).Seconds())
		res, err = measureConcurrency(ctx, env, cfg, clients)
		return err
	})
	return res, err
}

// withClients runs fn with n clients connected (connectClients) and the dev
// RAG server streaming at pace; the clients are closed when fn returns.
func withClients(ctx context.Context, env *Env, n int, pace time.Duration, fn func([]concClient) error) error {
	rag := ragdev.New(ragdev.Options{PieceDelay: pace})
	defer rag.Close()
	env.RAG.SetBackend(rag)
	clients, err := connectClients(ctx, env, n)
	defer func() {
		for _, c := range clients {
			if c.conn != nil {
				c.conn.Close()
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("set up %d clients: %w", n, err)
	}
	return fn(clients)
}

// measureConcurrency asks every client's questions (askAll) and measures
// the time, posts, CPU and memory they took.
func measureConcurrency(ctx context.Context, env *Env, cfg ConcConfig, clients []concClient) (*ConcResult, error) {
	res := &ConcResult{Config: cfg}
	selfCPU0, err := procfs.CPU(0)
	if err != nil {
		return nil, err
	}
	envCPU0, err := procfs.ChildrenCPU(messageBootstrap)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res.Answers = askAll(ctx, env, cfg, clients)
	res.Duration = time.Since(start)
	res.Posts = env.Stack.WS.Stats().Posts
	selfCPU1, err := procfs.CPU(0)
	if err != nil {
		return nil, err
	}
	res.StackCPU = selfCPU1 - selfCPU0
	envCPU1, err := procfs.ChildrenCPU(messageBootstrap)
	if err != nil {
		return nil, err
	}
	for pid, d := range envCPU1 {
		res.EnvCPU += d - envCPU0[pid]
	}
	if err := res.peakMemory(); err != nil {
		return nil, err
	}
	return res, nil
}

// concClient is one client of the experiment, alone in its room.
type concClient struct {
	room string
	conn *wsclient.Conn
}

// connectClients logs the demo customers of apt001 in and opens n rooms
// among them, each with its websocket. The clients connected so far are
// returned also on error, for the caller to close.
func connectClients(ctx context.Context, env *Env, n int) ([]concClient, error) {
	var tokens []string
	for _, u := range stack.DemoUsers {
		if u.CompanyID != "apt001" || u.Role != store.UserRoleCustomer {
			continue
		}
		tok, err := env.API.Login(ctx, u.CompanyID, u.UserID, u.Password)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, tok)
	}
	clients := make([]concClient, n)
	err := parallel(16, n, func(i int) error {
		tok := tokens[i%len(tokens)]
		room, err := env.API.CreateRoom(ctx, tok)
		if err != nil {
			return err
		}
		c, err := wsclient.Dial(ctx, env.Stack.URLs.WebSocket, tok, room)
		if err != nil {
			return err
		}
		clients[i] = concClient{room, c}
		return nil
	})
	return clients, err
}

// askAll has every client ask its questions one after the other, starting
// at a random time within the ramp, and returns every answer (a client
// stops at its first failure).
func askAll(ctx context.Context, env *Env, cfg ConcConfig, clients []concClient) []ConcAnswer {
	var mu sync.Mutex
	var answers []ConcAnswer
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(rand.N(cfg.Ramp + 1))
			for q := range cfg.Questions {
				a := concAsk(ctx, env, c, q, concQuestions[(i+q)%len(concQuestions)])
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				if a.Err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return answers
}

// concAsk asks one question on c and times its answer against what the
// RAG service emitted.
func concAsk(ctx context.Context, env *Env, c concClient, q int, question string) ConcAnswer {
	a := ConcAnswer{Question: q}
	ans, err := ask(ctx, c.conn, question, 60*time.Second)
	if err != nil {
		a.Err = err
		return a
	}
	em, err := env.RAG.Take(c.room, 10*time.Second)
	if err != nil {
		a.Err = err
		return a
	}
	a.Check = Verify(ans.Answer, em.Text)
	a.Frames = len(ans.Frames)
	a.CompleteMs = ms(ans.Frames[len(ans.Frames)-1].At.Sub(em.End))
	first, err := firstText(ans.Answer)
	if err != nil {
		a.Err = err
		return a
	}
	a.FirstMs = ms(first.At.Sub(em.FirstDelta))
	return a
}

// peakMemory reads the peak resident memory of this process and of every
// MessageFunction environment.
func (r *ConcResult) peakMemory() error {
	var err error
	if r.StackPeakKB, err = procfs.StatusKB(0, "VmHWM"); err != nil {
		return err
	}
	pids, err := procfs.Children(messageBootstrap)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if kb, err := procfs.StatusKB(pid, "VmHWM"); err == nil {
			r.EnvPeakKB = append(r.EnvPeakKB, float64(kb))
		}
	}
	return nil
}

// parallel runs f(0..n-1) with at most width at a time and returns the
// first error.
func parallel(width, n int, f func(i int) error) error {
	sem := make(chan struct{}, width)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- f(i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Table renders the concurrency results.
func (r *ConcResult) Table() *Table {
	t := &Table{Header: []string{"answers", "failed", "not byte-exact", "first-delta overhead p50 / p99 ms",
		"target p99 <= 50 ms", "completion overhead p50 / p99 ms", "frames/answer p50"}}
	type group struct {
		name string
		keep func(ConcAnswer) bool
	}
	groups := []group{
		{"all", func(ConcAnswer) bool { return true }},
		{"first question (cold environments)", func(a ConcAnswer) bool { return a.Question == 0 }},
		{"later questions (warm)", func(a ConcAnswer) bool { return a.Question > 0 }},
	}
	t.Header = append([]string{"questions"}, t.Header...)
	for _, g := range groups {
		var first, complete, frames []float64
		failed, differs, n := 0, 0, 0
		for _, a := range r.Answers {
			if !g.keep(a) {
				continue
			}
			n++
			if a.Err != nil {
				failed++
				continue
			}
			if a.Check.Differs {
				differs++
			}
			first = append(first, a.FirstMs)
			complete = append(complete, a.CompleteMs)
			frames = append(frames, float64(a.Frames))
		}
		p99 := Percentile(first, 99)
		t.Add(g.name, n, failed, fmt.Sprintf("%d %s", differs, mark(differs == 0)),
			fmt.Sprintf("%s / %s", f1(Median(first)), f1(p99)), mark(p99 <= 50),
			fmt.Sprintf("%s / %s", f1(Median(complete)), f1(Percentile(complete, 99))), f1(Median(frames)))
	}
	return t
}

// Summary describes the run and its memory figures.
func (r *ConcResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d clients x %d questions, dev RAG pace %s, start ramp %s: %d answers in %.1f s, %d PostToConnection calls (%.0f/s).\n",
		r.Config.Clients, r.Config.Questions, r.Config.Pace, r.Config.Ramp, len(r.Answers), r.Duration.Seconds(), r.Posts,
		float64(r.Posts)/r.Duration.Seconds())
	fmt.Fprintf(&b, "CPU while the questions ran: stack process %.1f s, MessageFunction environments %.1f s, in %.1f s on %d CPUs "+
		"(%.0f%% of the machine; the functions run on the same CPUs as the stack, unlike on Lambda).\n",
		r.StackCPU.Seconds(), r.EnvCPU.Seconds(), r.Duration.Seconds(), runtime.NumCPU(),
		100*(r.StackCPU+r.EnvCPU).Seconds()/r.Duration.Seconds()/float64(runtime.NumCPU()))
	fmt.Fprintf(&b, "Peak memory (VmHWM): stack process %.1f MiB (the bench process: stack, dev RAG and all clients); "+
		"MessageFunction environments: %d, max %.1f MiB, median %.1f MiB each.\n",
		float64(r.StackPeakKB)/1024, len(r.EnvPeakKB), Percentile(r.EnvPeakKB, 100)/1024, Median(r.EnvPeakKB)/1024)
	for _, a := range r.Answers {
		if a.Err != nil {
			fmt.Fprintf(&b, "First failure: %v\n", a.Err)
			break
		}
	}
	return b.String()
}
