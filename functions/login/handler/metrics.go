package handler

import (
	"net/http"

	"github.com/ragchat/ragchat/shared/metrics"
)

// loginMetrics writes one line per login with the dimension Function=login
// (docs/operations.md): Logins (1), LoginFailures (1 for a 401: unknown
// user, wrong password or role), LoginThrottled (1 for a 429: a locked
// key or an exhausted budget). Their sums are what the dashboard plots
// and the LoginFailures runbook reads.
func (h *Handler) loginMetrics(status int) {
	h.Metrics.Emit([]metrics.Dimension{{Name: "Function", Value: "login"}},
		metrics.Metric{Name: "Logins", Unit: metrics.Count, Value: 1},
		metrics.Metric{Name: "LoginFailures", Unit: metrics.Count, Value: metrics.Bool(status == http.StatusUnauthorized)},
		metrics.Metric{Name: "LoginThrottled", Unit: metrics.Count, Value: metrics.Bool(status == http.StatusTooManyRequests)},
	)
}
