package handoff

import "github.com/ragchat/ragchat/shared/metrics"

// CountTransition writes the HandoffTransitions metric of one room change
// that function (agent, message) made: 1 with the dimensions Function and
// Transition, the change's event (handoff_requested, agent_joined,
// agent_left, room_closed). docs/operations.md lists it; the dashboard
// shows it by transition.
func CountTransition(m *metrics.Emitter, function string, c Change) {
	m.Emit([]metrics.Dimension{{Name: "Function", Value: function}, {Name: "Transition", Value: c.Event}},
		metrics.Metric{Name: "HandoffTransitions", Unit: metrics.Count, Value: 1})
}
