package handler

import (
	"context"
	"fmt"
	"time"
)

// The time of one invocation. With D the Lambda deadline and M the
// DeadlineMargin:
//
//   - the RAG answer is read until D-M; a stream still going then ends with
//     RAG_TIMEOUT;
//   - the last posts (every recipient's ending, retried), the answer's
//     writes and their DynamoDB retries run until D-R, R being
//     returnReserve(M);
//   - Handle returns by D-R plus what logging takes, so the invocation ends
//     before Lambda's deadline whatever hangs: a post, DynamoDB, the RAG
//     service.
//
// A context without a deadline (tests, a direct call) is treated as one
// with Lambda's longest timeout, so nothing waits forever either.
const (
	// DefaultDeadlineMargin is the margin of a Handler whose
	// DeadlineMargin is zero (DEADLINE_MARGIN's default).
	DefaultDeadlineMargin = 2 * time.Second
	// MinDeadlineMargin is the smallest margin that leaves time to end an
	// answer: a post attempt and an answer write on a healthy network.
	MinDeadlineMargin = 500 * time.Millisecond
	// MinAnswerTime is the least time a margin must leave for answering in
	// a function of a known timeout.
	MinAnswerTime = time.Second

	maxInvocation = 15 * time.Minute // Lambda's longest timeout
	maxReserve    = 250 * time.Millisecond
)

// CheckDeadlineMargin reports a DEADLINE_MARGIN that leaves no time to end
// an answer (under MinDeadlineMargin) or, for a function whose timeout is
// known (timeout > 0), no time to answer: less than MinAnswerTime before
// the margin begins. The message function checks it at start.
func CheckDeadlineMargin(margin, timeout time.Duration) error {
	switch {
	case margin < MinDeadlineMargin:
		return fmt.Errorf("DEADLINE_MARGIN %s leaves no time to end an answer: want at least %s", margin, MinDeadlineMargin)
	case timeout > 0 && timeout-margin < MinAnswerTime:
		return fmt.Errorf("DEADLINE_MARGIN %s leaves %s of the function's %s timeout to answer: want at least %s",
			margin, max(timeout-margin, 0), timeout, MinAnswerTime)
	}
	return nil
}

func (h *Handler) margin() time.Duration {
	if h.DeadlineMargin > 0 {
		return h.DeadlineMargin
	}
	return DefaultDeadlineMargin
}

// returnReserve is the time kept between the end of everything an
// invocation does and the Lambda deadline, for Handle to log and return: a
// tenth of the margin, at most 250 ms.
func returnReserve(margin time.Duration) time.Duration {
	return min(margin/10, maxReserve)
}

// bounded returns ctx ending returnReserve before the Lambda deadline: the
// context of everything the invocation does.
func (h *Handler) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(maxInvocation)
	}
	return context.WithDeadline(ctx, deadline.Add(-returnReserve(h.margin())))
}

// answerTime returns the bounded ctx ending DeadlineMargin before the
// Lambda deadline: the context of the question's lookups and write and of
// reading the RAG answer, leaving the margin to the ending.
func (h *Handler) answerTime(bounded context.Context) (context.Context, context.CancelFunc) {
	deadline, _ := bounded.Deadline()
	m := h.margin()
	return context.WithDeadline(bounded, deadline.Add(-(m - returnReserve(m))))
}
