package handler

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
)

// The message function's metrics (docs/operations.md), one set per answer,
// all with the dimension Function=message:
//   - Answers (1), AnswerRagFailures (1 when the answer ended with
//     RAG_UNAVAILABLE or RAG_TIMEOUT, else 0: its sum over Answers' is the
//     share the RagFailureShare alarm watches);
//   - FirstDeltaLatency: from the question's arrival to the first frame
//     API Gateway accepted (absent when none was);
//   - AnswerDuration: from the question's arrival to the last frame;
//   - AnswerFrames, AnswerPosts (attempts, retries included), GoneSockets,
//     Recipients, Joins (recipients that joined while the answer streamed);
//   - AnswerOutcome (1) with the dimension Outcome: complete or the code;
//   - PostErrors with the dimension Status: failed post attempts by HTTP
//     status (429, 410, 403, 500, ...) or "transport" (no response).
const metricFunction = "message"

var messageDims = []metrics.Dimension{{Name: "Function", Value: metricFunction}}

// observedPoster counts what the posts of one invocation met: when the
// first one was accepted and how the failed ones failed. It calls nothing
// but the Poster it wraps.
type observedPoster struct {
	relay.Poster
	now func() time.Time

	mu     sync.Mutex
	first  time.Time
	errors map[string]int // by postStatus
}

func (p *observedPoster) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput,
	optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	out, err := p.Poster.PostToConnection(ctx, in, optFns...)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil && p.first.IsZero():
		p.first = p.now()
	case err != nil:
		if p.errors == nil {
			p.errors = map[string]int{}
		}
		p.errors[postStatus(err)]++
	}
	return out, err
}

// postStatus labels a failed post: its HTTP status, "timeout" when the
// attempt ran out of time (POST_TIMEOUT, or the invocation's end),
// "canceled" when it was cancelled, "transport" when no response came.
func postStatus(err error) string {
	var status interface{ HTTPStatusCode() int }
	switch {
	case errors.As(err, &status) && status.HTTPStatusCode() > 0:
		return strconv.Itoa(status.HTTPStatusCode())
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "transport"
}

// seen returns when the first post was accepted, and the failed
// attempts by status.
func (p *observedPoster) seen() (time.Time, map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs := make(map[string]int, len(p.errors))
	for k, v := range p.errors {
		errs[k] = v
	}
	return p.first, errs
}

// answerMetrics writes the metrics of one answer that began at started
// with initial recipients and ended with outcome.
func (h *Handler) answerMetrics(p *observedPoster, started time.Time, outcome string, res relay.Result, initial, total int) {
	first, postErrors := p.seen()
	ragFailed := outcome == rag.CodeUnavailable || outcome == rag.CodeTimeout
	ms := []metrics.Metric{
		{Name: "Answers", Unit: metrics.Count, Value: 1},
		{Name: "AnswerRagFailures", Unit: metrics.Count, Value: metrics.Bool(ragFailed)},
		{Name: "AnswerDuration", Unit: metrics.Milliseconds, Value: metrics.Ms(h.now().Sub(started))},
		{Name: "AnswerFrames", Unit: metrics.Count, Value: float64(res.Frames)},
		{Name: "AnswerPosts", Unit: metrics.Count, Value: float64(res.Posts)},
		{Name: "GoneSockets", Unit: metrics.Count, Value: float64(len(res.Gone))},
		{Name: "Recipients", Unit: metrics.Count, Value: float64(total)},
		{Name: "Joins", Unit: metrics.Count, Value: float64(max(total-initial, 0))},
	}
	if !first.IsZero() {
		ms = append(ms, metrics.Metric{Name: "FirstDeltaLatency", Unit: metrics.Milliseconds, Value: metrics.Ms(first.Sub(started))})
	}
	h.Metrics.Emit(messageDims, ms...)
	h.Metrics.Emit(append(messageDims[:1:1], metrics.Dimension{Name: "Outcome", Value: outcome}),
		metrics.Metric{Name: "AnswerOutcome", Unit: metrics.Count, Value: 1})
	for status, n := range postErrors {
		h.Metrics.Emit(append(messageDims[:1:1], metrics.Dimension{Name: "Status", Value: status}),
			metrics.Metric{Name: "PostErrors", Unit: metrics.Count, Value: float64(n)})
	}
}
