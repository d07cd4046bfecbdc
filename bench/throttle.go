package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ragchat/ragchat/local/wsapi"
)

// ThrottleConfig is the throttling experiment: Clients websocket clients,
// each in a room of its own, each asking Questions questions one after the
// other while @connections answers a share Rate of the posts with 429
// (LimitExceededException), one run per rate; the dev RAG server streams
// at Pace.
type ThrottleConfig struct {
	Clients   int
	Questions int
	Rates     []float64 // 0 first: the fault-free run the others compare with
	Pace      time.Duration
}

// ThrottleRun is one rate's outcome.
type ThrottleRun struct {
	Rate     float64
	Answers  []ConcAnswer
	Posts    int64     // PostToConnection calls, retries included
	Injected int64     // of them answered 429
	BilledMs []float64 // the MessageFunction invocations' billed durations
}

// RunThrottle runs the throttling experiment on env: the relay's 429
// rebuild-and-retry under an account-wide throttle of each rate.
func RunThrottle(ctx context.Context, env *Env, cfg ThrottleConfig, log io.Writer) ([]ThrottleRun, error) {
	var runs []ThrottleRun
	err := withClients(ctx, env, cfg.Clients, cfg.Pace, func(clients []concClient) error {
		defer env.Stack.WS.SetFaults(wsapi.Faults{})
		for _, rate := range cfg.Rates {
			f := wsapi.Faults{}
			if rate > 0 {
				f = wsapi.Faults{Status: 429, Rate: rate}
			}
			if err := env.Stack.WS.SetFaults(f); err != nil {
				return err
			}
			env.Stack.WS.ResetStats()
			n0 := env.Reports.Count("MessageFunction")
			run := ThrottleRun{Rate: rate}
			run.Answers = askAll(ctx, env, ConcConfig{Clients: cfg.Clients, Questions: cfg.Questions, Pace: cfg.Pace}, clients)
			st := env.Stack.WS.Stats()
			run.Posts, run.Injected = st.Posts, st.Injected
			// Every answered question is one invocation; its REPORT follows it.
			if _, ok := env.Reports.WaitAfter("MessageFunction", n0+len(run.Answers)-1, 30*time.Second); !ok {
				return fmt.Errorf("rate %.0f%%: missing REPORT lines of MessageFunction", 100*rate)
			}
			for _, rep := range env.Reports.Since("MessageFunction", n0) {
				run.BilledMs = append(run.BilledMs, float64(rep.BilledMs))
			}
			fmt.Fprintf(log, "  429 rate %.0f%%: %d answers, %d posts, %d throttled\n", 100*rate, len(run.Answers), run.Posts, run.Injected)
			runs = append(runs, run)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return runs, nil
}

// ThrottleTable renders the runs, billed durations against the first
// (fault-free) run.
func ThrottleTable(runs []ThrottleRun) *Table {
	t := &Table{Header: []string{"429 rate", "answers", "ended (complete)", "not byte-exact", "completion overhead p50 / p99 ms",
		"posts/answer", "429s/answer", "billed ms p50 / p99", "billed p50 vs fault-free"}}
	var base float64
	for i, r := range runs {
		var complete []float64
		ended, differs := 0, 0
		for _, a := range r.Answers {
			if a.Err != nil {
				continue
			}
			if a.Check.Complete {
				ended++
			}
			if a.Check.Differs {
				differs++
			}
			complete = append(complete, a.CompleteMs)
		}
		billed := Median(r.BilledMs)
		if i == 0 {
			base = billed
		}
		n := float64(len(r.Answers))
		t.Add(fmt.Sprintf("%.0f%%", 100*r.Rate), len(r.Answers),
			fmt.Sprintf("%d %s", ended, mark(ended == len(r.Answers))), fmt.Sprintf("%d %s", differs, mark(differs == 0)),
			fmt.Sprintf("%s / %s", f1(Median(complete)), f1(Percentile(complete, 99))),
			f1(float64(r.Posts)/n), f1(float64(r.Injected)/n),
			fmt.Sprintf("%s / %s", f1(billed), f1(Percentile(r.BilledMs, 99))), fmt.Sprintf("%.2fx", billed/base))
	}
	return t
}
