package handler

import (
	"bytes"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/metrics/emftest"
)

func TestMetrics_RefusedHandshakesAreCountedByReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var buf bytes.Buffer
	e.h.Metrics = metrics.New(&buf, "ragchat/test")
	token := testkit.Mint(t, testkit.Hong2, time.Now())

	e.call(t, request("c1", map[string][]string{"token": {token}, "roomId": {"room-0000a001"}}))
	e.call(t, request("c2", map[string][]string{"roomId": {"room-0000a001"}}))
	e.call(t, request("c3", map[string][]string{"token": {"not-a-jwt"}, "roomId": {"room-0000a001"}}))
	e.call(t, request("c4", map[string][]string{"token": {token}, "roomId": {"room-0000a002"}}))
	e.call(t, request("c5", map[string][]string{"token": {token}}))

	lines := emftest.Lines(t, buf.Bytes())
	if c := emftest.Find(lines, "Connects"); len(c) != 1 || c[0].Dimensions["Function"] != "connect" || len(c[0].Dimensions) != 1 {
		t.Errorf("Connects lines %+v, want one", c)
	}
	reasons := map[string]float64{}
	for _, l := range emftest.Find(lines, "ConnectRefused") {
		reasons[l.Dimensions["Reason"]] += l.Metrics["ConnectRefused"]
	}
	want := map[string]float64{"UNAUTHORIZED": 2, "FORBIDDEN": 1, "BAD_REQUEST": 1}
	if len(reasons) != len(want) {
		t.Errorf("refusals by reason %v, want %v", reasons, want)
	}
	for r, n := range want {
		if reasons[r] != n {
			t.Errorf("refusals by reason %v, want %v", reasons, want)
		}
	}
}
