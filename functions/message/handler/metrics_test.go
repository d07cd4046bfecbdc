package handler

import (
	"bytes"
	"context"
	"testing"

	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/metrics/emftest"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
)

// withMetrics makes e's handler write its metrics to a buffer and returns it.
func withMetrics(e *env) *bytes.Buffer {
	var buf bytes.Buffer
	e.h.Metrics = metrics.New(&buf, "ragchat/test")
	return &buf
}

// answerLine returns the one line carrying the per-answer metrics.
func answerLine(t *testing.T, lines []emftest.Line) emftest.Line {
	t.Helper()
	found := emftest.Find(lines, "Answers")
	if len(found) != 1 {
		t.Fatalf("%d lines carry Answers, want 1: %+v", len(found), lines)
	}
	return found[0]
}

func TestMetrics_ACompleteAnswerReportsItsFiguresAsEMF(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.connect("peer", traceRoom, true)
	buf := withMetrics(e)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))

	lines := emftest.Lines(t, buf.Bytes())
	l := answerLine(t, lines)
	frames := len(e.ws.Frames(callerID)) + len(e.ws.Frames("peer"))
	want := map[string]float64{"Answers": 1, "AnswerRagFailures": 0, "AnswerFrames": float64(frames),
		"GoneSockets": 0, "Recipients": 2, "Joins": 0}
	for name, v := range want {
		if l.Metrics[name] != v {
			t.Errorf("%s = %v, want %v", name, l.Metrics[name], v)
		}
	}
	if posts := e.ws.Posts(callerID) + e.ws.Posts("peer"); l.Metrics["AnswerPosts"] != float64(posts) {
		t.Errorf("AnswerPosts = %v, the endpoint saw %d", l.Metrics["AnswerPosts"], posts)
	}
	first, total := l.Metrics["FirstDeltaLatency"], l.Metrics["AnswerDuration"]
	if _, ok := l.Metrics["FirstDeltaLatency"]; !ok || first < 0 || first > total {
		t.Errorf("FirstDeltaLatency %v, AnswerDuration %v", first, total)
	}
	units := map[string]string{"Answers": "Count", "AnswerFrames": "Count", "FirstDeltaLatency": "Milliseconds", "AnswerDuration": "Milliseconds"}
	for name, u := range units {
		if l.Units[name] != u {
			t.Errorf("%s unit %q, want %s", name, l.Units[name], u)
		}
	}
	if l.Namespace != "ragchat/test" || len(l.Dimensions) != 1 || l.Dimensions["Function"] != "message" {
		t.Errorf("namespace %q dimensions %v", l.Namespace, l.Dimensions)
	}
	outcome := emftest.Find(lines, "AnswerOutcome")
	if len(outcome) != 1 || outcome[0].Dimensions["Outcome"] != OutcomeComplete || outcome[0].Metrics["AnswerOutcome"] != 1 {
		t.Errorf("outcome lines %+v", outcome)
	}
	if pe := emftest.Find(lines, "PostErrors"); len(pe) != 0 {
		t.Errorf("post errors reported for clean posts: %+v", pe)
	}
}

func TestMetrics_RAGFailuresCountTowardTheShareTheAlarmWatches(t *testing.T) {
	for _, tt := range []struct {
		mode    ragMode
		code    string
		ragFail float64
	}{
		{ragRefused, rag.CodeUnavailable, 1},
		{ragStallFirst, rag.CodeTimeout, 1},
		{ragEOFBeforeDone, rag.CodeInterrupted, 0},
	} {
		t.Run(tt.code, func(t *testing.T) {
			e := newEnv(t, tt.mode)
			buf := withMetrics(e)
			e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
			lines := emftest.Lines(t, buf.Bytes())
			if l := answerLine(t, lines); l.Metrics["AnswerRagFailures"] != tt.ragFail || l.Metrics["Answers"] != 1 {
				t.Errorf("AnswerRagFailures %v Answers %v, want %v and 1", l.Metrics["AnswerRagFailures"], l.Metrics["Answers"], tt.ragFail)
			}
			if o := emftest.Find(lines, "AnswerOutcome"); len(o) != 1 || o[0].Dimensions["Outcome"] != tt.code {
				t.Errorf("outcome lines %+v, want one with Outcome %s", o, tt.code)
			}
		})
	}
}

func TestMetrics_FailedPostsAreCountedByStatusAndGoneSocketsCounted(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.connect("peer", traceRoom, true)
	e.connect("gone", traceRoom, false)
	e.ws.Script(callerID, relaytest.LimitExceeded, relaytest.LimitExceeded, relaytest.InternalError)
	buf := withMetrics(e)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))

	lines := emftest.Lines(t, buf.Bytes())
	byStatus := map[string]float64{}
	for _, l := range emftest.Find(lines, "PostErrors") {
		byStatus[l.Dimensions["Status"]] += l.Metrics["PostErrors"]
	}
	if byStatus["429"] != 2 || byStatus["500"] != 1 || byStatus["410"] != 1 {
		t.Errorf("post errors by status %v, want 429:2 500:1 410:1", byStatus)
	}
	l := answerLine(t, lines)
	if l.Metrics["GoneSockets"] != 1 || l.Metrics["Recipients"] != 3 {
		t.Errorf("GoneSockets %v Recipients %v, want 1 and 3", l.Metrics["GoneSockets"], l.Metrics["Recipients"])
	}
}

func TestMetrics_ARejectedMessageReportsNoAnswer(t *testing.T) {
	e := newEnv(t, ragTrace)
	buf := withMetrics(e)
	e.handle(context.Background(), event(RouteDefault, `{"action":"nope"}`))
	if lines := emftest.Lines(t, buf.Bytes()); len(emftest.Find(lines, "Answers")) != 0 {
		t.Errorf("a rejected message reported an answer: %+v", lines)
	}
}

func TestMetrics_AHandoffIsCountedOnceByTransition(t *testing.T) {
	e := newHandoffEnv(t)
	buf := withMetrics(e)
	ctx := context.Background()
	e.handle(ctx, event(RouteHandoff, `{"action":"handoff"}`))
	e.handle(ctx, event(RouteHandoff, `{"action":"handoff"}`)) // already WAITING: no transition
	got := emftest.Find(emftest.Lines(t, buf.Bytes()), "HandoffTransitions")
	if len(got) != 1 || got[0].Dimensions["Transition"] != "handoff_requested" || got[0].Dimensions["Function"] != "message" || got[0].Metrics["HandoffTransitions"] != 1 {
		t.Errorf("transition lines %+v, want one handoff_requested", got)
	}
}
