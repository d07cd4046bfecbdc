package bench

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReports_SinceReturnsTheLinesAfterACount(t *testing.T) {
	r := NewReports()
	for i := range 3 {
		fmt.Fprintf(r, "[MessageFunction#1] REPORT RequestId: %d\tDuration: 1.00 ms\tBilled Duration: %d ms\tMemory Size: 256 MB\n", i, 100*(i+1))
	}
	got := r.Since("MessageFunction", 1)
	if len(got) != 2 || got[0].BilledMs != 200 || got[1].BilledMs != 300 {
		t.Errorf("Since(1) = %+v, want the 2nd and 3rd reports", got)
	}
	if got := r.Since("MessageFunction", 5); len(got) != 0 {
		t.Errorf("Since past the end = %+v", got)
	}
}

func TestThrottleTable_CountsEndingsAndComparesBilledWithTheFaultFreeRun(t *testing.T) {
	ok := ConcAnswer{Check: Check{Complete: true}, CompleteMs: 10}
	runs := []ThrottleRun{
		{Rate: 0, Answers: []ConcAnswer{ok, ok}, Posts: 40, BilledMs: []float64{1000, 1000}},
		{Rate: 0.3, Answers: []ConcAnswer{ok, {Err: errors.New("timed out")}}, Posts: 50, Injected: 14, BilledMs: []float64{1500, 1500}},
	}
	out := ThrottleTable(runs).String()
	for _, want := range []string{"| 0%", "2 pass", "1.00x", "| 30%", "1 MISS", "1.50x", "25.0", "7.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
