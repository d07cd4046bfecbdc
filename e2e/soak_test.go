package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ragchat/ragchat/internal/procfs"
	"github.com/ragchat/ragchat/local/wsapi"
)

// soakQuestions are the questions soak clients ask (apt001's knowledge
// base, and one nothing matches).
var soakQuestions = []string{
	qFee, qParking, qRecycle,
	"음식물 쓰레기는 어떻게 버리나요?", "택배는 어디서 찾나요?", "헬스장 운영 시간과 이용 방법이 궁금합니다.",
	"반려동물을 키워도 되나요?", "보일러가 고장 나서 난방이 안 돼요.", "전기차 충전은 어디서 하나요?",
	"우주선 발사 일정은 어떻게 되나요?",
}

// soakFault is a RAG fault the soak injects, with the outcome it must have.
type soakFault struct {
	marker  string
	code    string // "" for complete
	partial bool
	weight  int
}

// soakFaults: about one question in three carries one of these.
var soakFaults = []soakFault{
	{marker: "http500", code: codeUnavailable, weight: 4},
	{marker: "json200", code: codeUnavailable, weight: 3},
	{marker: "refuse", code: codeUnavailable, weight: 3},
	{marker: "stall-before-first", code: codeTimeout, weight: 2},
	{marker: "stall-mid", code: codeTimeout, partial: true, weight: 2},
	{marker: "eof-before-done", code: codeInterrupted, partial: true, weight: 3},
	{marker: "reset-mid", code: codeInterrupted, partial: true, weight: 3},
	{marker: "malformed", weight: 3},
	{marker: "crlf,keepalive,blank-lines", weight: 2},
	{marker: "complete-with-text,no-done", weight: 2},
	{marker: "huge-line", weight: 1},
}

const (
	soakFaultShare = 3  // one question in soakFaultShare carries a fault
	soakReconnect  = 20 // questions per connection
	// Every @connections post fails with 429 at this rate (retried).
	soakPostFailureRate = 0.01
	// goroutinesPerEnvironment bounds the goroutines a warm, idle
	// execution environment keeps in the stack.
	goroutinesPerEnvironment = 12
)

// soakCounts are one client's totals.
type soakCounts struct {
	Questions, Frames, Reconnects int64
	Outcomes                      map[string]int64
}

// clientT lets a soak client goroutine use the test helpers: Fatal and
// FailNow record the failure and end the goroutine (runtime.Goexit), as
// FailNow ends a test goroutine; Error records it and goes on.
type clientT struct {
	testing.TB
	name string
	fail func(string)
}

func (c clientT) Helper() {}
func (c clientT) Errorf(format string, args ...any) {
	c.fail(c.name + ": " + fmt.Sprintf(format, args...))
}
func (c clientT) Error(args ...any) { c.fail(c.name + ": " + fmt.Sprint(args...)) }
func (c clientT) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	runtime.Goexit()
}
func (c clientT) Fatal(args ...any) {
	c.Error(args...)
	runtime.Goexit()
}
func (c clientT) FailNow() {
	c.fail(c.name + ": FailNow")
	runtime.Goexit()
}

// sample is one measurement of the stack during the soak.
type sample struct {
	At         time.Duration
	HeapMB     float64 // test process (the whole in-process stack) heap in use after a GC
	Goroutines int
	FDs        int     // open file descriptors of the test process
	Procs      int     // function processes
	RSSMB      float64 // their resident memory, summed
	MaxRSSMB   float64 // the largest of them
	Questions  int64
}

func TestSoak(t *testing.T) {
	if *soakFor <= 0 {
		t.Skip("the soak runs only with -soak=<duration> (e.g. -soak=10m, -soak=30s)")
	}
	n := *soakClients
	customers := make([]customer, n)
	for i := range customers {
		customers[i] = h.newCustomer(t, "apt001")
	}
	h.setWSFaults(t, wsapi.Faults{Status: 429, Rate: soakPostFailureRate})
	statsBefore := h.st.WS.Stats()
	baseline := takeSample(0, 0)
	t.Logf("baseline before %d clients: %+v", n, baseline)

	var (
		mu       sync.Mutex
		failures []string
		asked    atomic.Int64
		totals   = soakCounts{Outcomes: map[string]int64{}}
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, msg)
	}
	stop := time.Now().Add(*soakFor)
	var wg sync.WaitGroup
	var read atomic.Int64 // typed frames read by every client's connections
	for i, cu := range customers {
		wg.Go(func() {
			ct := clientT{TB: t, name: fmt.Sprintf("client %d (%s)", i, cu.Room), fail: fail}
			counts := soakClient(ct, cu, stop, &asked, &read)
			mu.Lock()
			defer mu.Unlock()
			totals.Questions += counts.Questions
			totals.Frames += counts.Frames
			totals.Reconnects += counts.Reconnects
			for k, v := range counts.Outcomes {
				totals.Outcomes[k] += v
			}
		})
	}

	every := max(*soakFor/60, 5*time.Second)
	samples := []sample{baseline}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	ticker := time.NewTicker(every)
sampling:
	for {
		select {
		case <-ticker.C:
			s := takeSample(time.Since(start), asked.Load())
			samples = append(samples, s)
			t.Logf("%6s heap %6.1f MB, %5d goroutines, %4d fds, %3d function processes, RSS %7.1f MB (max %5.1f), %6d questions",
				s.At.Round(time.Second), s.HeapMB, s.Goroutines, s.FDs, s.Procs, s.RSSMB, s.MaxRSSMB, s.Questions)
		case <-done:
			break sampling
		}
	}
	ticker.Stop()
	must(t, h.st.WS.SetFaults(wsapi.Faults{}))

	// Quiet: every socket closed, every connection item gone, goroutines
	// back to where they were.
	for _, cu := range customers {
		h.waitNoConnections(t, cu.Room)
	}
	// Warm execution environments stay, each with its Runtime API server
	// and process watchers; everything else must have ended.
	var after sample
	eventually(t, "the goroutines to settle", func() bool {
		after = takeSample(time.Since(start), asked.Load())
		return after.Goroutines <= baseline.Goroutines+goroutinesPerEnvironment*(after.Procs-baseline.Procs)+50
	})
	t.Logf("after the clients left: %+v", after)

	delivered := h.st.WS.Stats().Delivered - statsBefore.Delivered
	report := soakReportText(*soakFor, n, totals, samples, baseline, after, delivered, read.Load(), failures)
	t.Log("\n" + report)
	if *soakReport != "" {
		if err := os.WriteFile(*soakReport, []byte(report), 0o644); err != nil {
			t.Errorf("write the soak report: %v", err)
		}
	}

	for i, f := range failures {
		if i == 20 {
			t.Errorf("... and %d more failures", len(failures)-20)
			break
		}
		t.Error(f)
	}
	if delivered != read.Load() {
		t.Errorf("%d frames delivered by @connections, %d read by the clients", delivered, read.Load())
	}
	if totals.Questions == 0 {
		t.Fatalf("no question was asked")
	}
	checkNoGrowth(t, samples[1:])
}

// soakClient asks questions until stop, checking every answer, and returns
// what it did. A check that fails ends the client (see clientT).
func soakClient(t clientT, cu customer, stop time.Time, asked, read *atomic.Int64) (counts soakCounts) {
	counts.Outcomes = map[string]int64{}
	var c *client
	defer func() {
		if c != nil {
			read.Add(int64(c.typedFrames()))
			c.close()
		}
	}()
	weights := 0
	for _, f := range soakFaults {
		weights += f.weight
	}
	for q := 0; time.Now().Before(stop); q++ {
		if q%soakReconnect == 0 {
			if c != nil {
				h.checkNoExtraFrames(t, c)
				read.Add(int64(c.typedFrames()))
				c.close()
				h.waitNoConnections(t, cu.Room)
				counts.Reconnects++
			}
			c = h.dial(t, cu.Token, cu.Room)
		}
		question := soakQuestions[rand.IntN(len(soakQuestions))]
		fault := soakFault{}
		if rand.IntN(soakFaultShare) == 0 {
			pick := rand.IntN(weights)
			for _, f := range soakFaults {
				if pick -= f.weight; pick < 0 {
					fault = f
					break
				}
			}
			question += " #fault=" + fault.marker
		}
		a := c.ask(t, question)
		asked.Add(1)
		counts.Questions++
		counts.Frames += int64(a.Frames)
		outcome := "complete"
		if a.Terminal.Type == "error" {
			outcome = a.Terminal.Code
		}
		counts.Outcomes[outcome]++
		checkSoakAnswer(t, cu.Room, question, fault, a)
	}
	return counts
}

// checkSoakAnswer checks one answer against the dev RAG server and the
// history, then deletes the question and answer items so that the table
// (and the embedded DynamoDB's memory) stays small.
func checkSoakAnswer(t clientT, room, question string, fault soakFault, a answer) {
	switch {
	case fault.code != "" && !fault.partial:
		// Failed before the first event; some of these faults never reach
		// the dev RAG server's history.
		if a.Terminal.Type != "error" || a.Terminal.Code != fault.code || a.Text != "" {
			t.Fatalf("%q: ended with %s after %q, want %s and no text", question, redactFrame(a.Terminal), redact(a.Text), fault.code)
		}
	case fault.code != "":
		full := h.rag.lastAnswer(t, room).Answer
		if a.Terminal.Type != "error" || a.Terminal.Code != fault.code || a.Text == "" || a.Text == full || !strings.HasPrefix(full, a.Text) {
			t.Fatalf("%q: ended with %s after %q; want %s after a beginning of %q",
				question, redactFrame(a.Terminal), redact(a.Text), fault.code, redact(full))
		}
	case fault.marker == "huge-line":
		full := h.rag.lastAnswer(t, room).Answer
		if a.Terminal.Type != "error" || a.Terminal.Code != codeTooLong || !isCutWithHugeLine(a.Text, full) {
			t.Fatalf("%q: %s after %d bytes", question, redactFrame(a.Terminal), len(a.Text))
		}
	default:
		full := h.rag.lastAnswer(t, room).Answer
		if a.Terminal.Type != "complete" || a.Text != full {
			t.Fatalf("%q: %s; deltas %q, the dev RAG answered %q", question, redactFrame(a.Terminal), redact(a.Text), redact(full))
		}
	}
	outcome := "complete"
	if fault.code != "" {
		outcome = fault.code
	}
	if fault.marker == "huge-line" {
		outcome = codeTooLong
	}
	var msgs []storedMessage
	// The answer's item exists from its first frame on (outcome
	// streaming); its ending is written after the ending frame is posted.
	eventually(t, "the answer stored", func() bool {
		msgs = h.history(t, room)
		return len(msgs) >= 2 && msgs[len(msgs)-1].MessageID == a.MessageID && msgs[len(msgs)-1].Outcome != "streaming"
	})
	if len(msgs) != 2 {
		t.Fatalf("history holds %d items, want this question and answer only", len(msgs))
	}
	q, b := msgs[0], msgs[1]
	if q.Role != "user" || q.Text != question || b.Role != "bot" || b.Outcome != outcome ||
		b.Text != a.Text {
		t.Fatalf("history: question %q, answer %s %q (%d bytes); want %q, %s, %d bytes",
			redact(q.Text), b.Outcome, redact(b.Text), len(b.Text), redact(question), outcome, len(a.Text))
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for _, m := range msgs {
		_, err := h.st.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(h.st.Tables.Messages),
			Key: map[string]types.AttributeValue{
				"roomId": &types.AttributeValueMemberS{Value: m.RoomID}, "sk": &types.AttributeValueMemberS{Value: m.SK},
			},
		})
		if err != nil {
			t.Fatalf("delete history item: %v", err)
		}
	}
}

// takeSample measures the test process (which runs the whole stack but the
// functions) after a GC, and the function processes (its children).
func takeSample(at time.Duration, questions int64) sample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := sample{At: at, HeapMB: mb(ms.HeapInuse), Goroutines: runtime.NumGoroutine(), Questions: questions}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.FDs = len(fds)
	}
	pids, _ := procfs.Children("") // the functions' bootstrap processes; none without /proc
	for _, pid := range pids {
		kb, _ := procfs.StatusKB(pid, "VmRSS") // 0 when unreadable
		rss := uint64(kb) << 10
		s.Procs++
		s.RSSMB += mb(rss)
		s.MaxRSSMB = max(s.MaxRSSMB, mb(rss))
	}
	return s
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// checkNoGrowth compares the median of the first and the last third of the
// samples taken under load (the first fifth is warm-up and left out): none
// of heap, goroutines, open files and function memory may grow beyond a
// generous allowance for noise.
func checkNoGrowth(t *testing.T, samples []sample) {
	t.Helper()
	samples = samples[len(samples)/5:]
	if len(samples) < 6 {
		t.Logf("only %d samples under load: too few to judge a trend", len(samples))
		return
	}
	third := len(samples) / 3
	first, last := samples[:third], samples[len(samples)-third:]
	checks := []struct {
		what       string
		of         func(sample) float64
		ratio, add float64
	}{
		{"heap (MB)", func(s sample) float64 { return s.HeapMB }, 1.5, 16},
		{"goroutines", func(s sample) float64 { return float64(s.Goroutines) }, 1.3, 100},
		{"open files", func(s sample) float64 { return float64(s.FDs) }, 1.3, 50},
		{"largest function RSS (MB)", func(s sample) float64 { return s.MaxRSSMB }, 1.5, 16},
		{"mean function RSS (MB)", func(s sample) float64 { return s.RSSMB / float64(max(s.Procs, 1)) }, 1.5, 8},
	}
	for _, c := range checks {
		a, b := median(first, c.of), median(last, c.of)
		if b > a*c.ratio+c.add {
			t.Errorf("%s grew from %.1f to %.1f (median of the first and last third under load)", c.what, a, b)
		}
	}
}

func median(ss []sample, of func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = of(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// soakReportText renders the soak's totals and samples as Markdown.
func soakReportText(d time.Duration, clients int, totals soakCounts, samples []sample, baseline, after sample,
	delivered, read int64, failures []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Soak: %s, %d clients, %d questions (%d frames, %d reconnects), %d failures; "+
		"@connections delivered %d frames, clients read %d.\n\n",
		d, clients, totals.Questions, totals.Frames, totals.Reconnects, len(failures), delivered, read)
	outcomes := make([]string, 0, len(totals.Outcomes))
	for k := range totals.Outcomes {
		outcomes = append(outcomes, k)
	}
	sort.Strings(outcomes)
	b.WriteString("| outcome | questions |\n|---|---|\n")
	for _, k := range outcomes {
		fmt.Fprintf(&b, "| %s | %d |\n", k, totals.Outcomes[k])
	}
	b.WriteString("\n| t | heap MB | goroutines | fds | function processes | their RSS MB | largest RSS MB | questions |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	row := func(label string, s sample) {
		fmt.Fprintf(&b, "| %s | %.1f | %d | %d | %d | %.1f | %.1f | %d |\n",
			label, s.HeapMB, s.Goroutines, s.FDs, s.Procs, s.RSSMB, s.MaxRSSMB, s.Questions)
	}
	row("before", baseline)
	for _, s := range samples[1:] {
		row(s.At.Round(time.Second).String(), s)
	}
	row("after", after)
	return b.String()
}
