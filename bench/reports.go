package bench

import (
	"bytes"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Report is one invocation's REPORT line, as the local Lambda pool writes
// it after each invocation.
type Report struct {
	Function string
	BilledMs int
	MemoryMB int
}

var reportLine = regexp.MustCompile(`^\[([A-Za-z0-9]+)#\d+\] REPORT RequestId: \S+\tDuration: [0-9.]+ ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB`)

// Reports is the functions' output sink: it keeps the REPORT lines, per
// function, and the last lines of everything else for error messages.
type Reports struct {
	mu      sync.Mutex
	byFn    map[string][]Report
	partial []byte
	tail    []string
}

// NewReports returns an empty sink.
func NewReports() *Reports { return &Reports{byFn: map[string][]Report{}} }

// Write implements io.Writer over whole or partial lines.
func (r *Reports) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		r.line(string(r.partial[:i]))
		r.partial = r.partial[i+1:]
	}
	return len(p), nil
}

func (r *Reports) line(l string) {
	m := reportLine.FindStringSubmatch(l)
	if m == nil {
		r.tail = append(r.tail, l)
		if len(r.tail) > 40 {
			r.tail = r.tail[len(r.tail)-40:]
		}
		return
	}
	rep := Report{Function: m[1]}
	rep.BilledMs, _ = strconv.Atoi(m[2])
	rep.MemoryMB, _ = strconv.Atoi(m[3])
	r.byFn[rep.Function] = append(r.byFn[rep.Function], rep)
}

// Count is the number of REPORT lines of fn so far.
func (r *Reports) Count(fn string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byFn[fn])
}

// Since returns the REPORT lines of fn from number n+1 on (n being a Count
// taken earlier).
func (r *Reports) Since(fn string, n int) []Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Report(nil), r.byFn[fn][min(n, len(r.byFn[fn])):]...)
}

// WaitAfter waits up to timeout for the REPORT number n+1 of fn (n being
// a Count taken before the invocation) and returns it.
func (r *Reports) WaitAfter(fn string, n int, timeout time.Duration) (Report, bool) {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		list := r.byFn[fn]
		if len(list) > n {
			rep := list[n]
			r.mu.Unlock()
			return rep, true
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			return Report{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Tail returns the last lines of function output that were not REPORTs.
func (r *Reports) Tail() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tail...)
}
