package handler

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/metrics/emftest"
)

func TestMetrics_EachLoginReportsFailuresAndThrottlesAsEMF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var buf bytes.Buffer
	e.h.Metrics = metrics.New(&buf, "ragchat/test")

	e.call(t, bodyReq("apt001", `{"id":"hong2","password":"1234"}`))
	for i := range 6 { // five failures lock the key; the sixth attempt is throttled
		e.call(t, bodyReq("apt001", fmt.Sprintf(`{"id":"kim","password":"wrong-%d"}`, i)))
	}
	lines := emftest.Lines(t, buf.Bytes())
	sum := map[string]float64{}
	for _, l := range lines {
		if l.Namespace != "ragchat/test" || l.Dimensions["Function"] != "login" || len(l.Dimensions) != 1 {
			t.Errorf("line %+v", l)
		}
		for name, v := range l.Metrics {
			sum[name] += v
			if l.Units[name] != "Count" {
				t.Errorf("%s unit %q", name, l.Units[name])
			}
		}
	}
	if sum["Logins"] != 7 || sum["LoginFailures"] != 5 || sum["LoginThrottled"] != 1 {
		t.Errorf("sums %v, want 7 logins, 5 failures, 1 throttled", sum)
	}
}
