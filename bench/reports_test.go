package bench

import (
	"fmt"
	"testing"
	"time"
)

func TestReports_ParsesReportLinesPerFunction(t *testing.T) {
	r := NewReports()
	fmt.Fprint(r, "[MessageFunction#1] START RequestId: a Version: $LATEST\n")
	fmt.Fprint(r, "[MessageFunction#1] REPORT RequestId: a\tDuration: 812.50 ms\tBilled Duration: 813 ms\tMemory Size: 256 MB\tMax Memory Used: 21 MB\tInit Duration: 9.25 ms\n[Login")
	fmt.Fprint(r, "Function#2] REPORT RequestId: b\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 512 MB\n")
	rep, ok := r.WaitAfter("MessageFunction", 0, time.Second)
	if !ok {
		t.Fatal("no report")
	}
	if rep.BilledMs != 813 || rep.MemoryMB != 256 || rep.Function != "MessageFunction" {
		t.Errorf("report = %+v", rep)
	}
	if r.Count("LoginFunction") != 1 {
		t.Errorf("a line split across writes must still count")
	}
	if _, ok := r.WaitAfter("MessageFunction", 1, 10*time.Millisecond); ok {
		t.Error("a second report appeared from nowhere")
	}
	if tail := r.Tail(); len(tail) != 1 {
		t.Errorf("tail = %q, want the START line", tail)
	}
}
