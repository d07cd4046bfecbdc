package handler

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/metrics/emftest"
)

func TestMetrics_EveryRoomChangeIsCountedByTransitionAndRefusalsAreNot(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	e.h.Metrics = metrics.New(&buf, "ragchat/test")
	if _, _, err := e.Store.RequestHandoff(context.Background(), "apt001", "room-1", time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	e.call(t, "claim", "room-1", &agent1)
	e.call(t, "claim", "room-1", &agent1) // the holder again: no change
	e.call(t, "claim", "room-1", &agent2) // 409 ALREADY_ASSIGNED
	e.call(t, "release", "room-1", &agent1)
	e.call(t, "claim", "room-1", &agent2)
	e.call(t, "close", "room-1", &agent2)

	byTransition := map[string]float64{}
	for _, l := range emftest.Find(emftest.Lines(t, buf.Bytes()), "HandoffTransitions") {
		if l.Dimensions["Function"] != "agent" || l.Units["HandoffTransitions"] != "Count" {
			t.Errorf("line %+v", l)
		}
		byTransition[l.Dimensions["Transition"]] += l.Metrics["HandoffTransitions"]
	}
	want := map[string]float64{"agent_joined": 2, "agent_left": 1, "room_closed": 1}
	if len(byTransition) != len(want) || byTransition["agent_joined"] != 2 || byTransition["agent_left"] != 1 || byTransition["room_closed"] != 1 {
		t.Errorf("transitions %v, want %v", byTransition, want)
	}
}
