package handler

import (
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/metrics"
)

// connectMetrics writes one line per $connect with the dimension
// Function=connect (docs/operations.md): Connects (1) when the handshake
// was accepted; otherwise ConnectRefused (1) with the dimension Reason,
// the error code the client was answered (UNAUTHORIZED, FORBIDDEN,
// BAD_REQUEST, INTERNAL, ...).
func (h *Handler) connectMetrics(err error) {
	dims := []metrics.Dimension{{Name: "Function", Value: "connect"}}
	if err == nil {
		h.Metrics.Emit(dims, metrics.Metric{Name: "Connects", Unit: metrics.Count, Value: 1})
		return
	}
	h.Metrics.Emit(append(dims, metrics.Dimension{Name: "Reason", Value: apigw.CodeOf(err)}),
		metrics.Metric{Name: "ConnectRefused", Unit: metrics.Count, Value: 1})
}
