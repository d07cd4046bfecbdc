package handler

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
)

// stream asks the RAG service and feeds its answer to s until the answer
// ends, fails, or the Lambda deadline comes within DeadlineMargin; first
// is called once, when the answer's first text goes to s. It returns the
// outcome (OutcomeComplete or an error code) and the number of malformed
// lines skipped.
func (h *Handler) stream(ctx context.Context, log *slog.Logger, s *relay.Stream, req rag.Request, first func()) (string, int) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-h.DeadlineMargin))
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { // an answer the relay ended (a sender's panic) is not read further
		select {
		case <-s.Ended():
			stop()
		case <-ctx.Done():
		}
	}()
	rs, err := h.RAG.Ask(ctx, req)
	if err != nil {
		return failure(ctx, log, err), 0
	}
	defer rs.Close()
	started := false
	for {
		ev, err := rs.Next()
		if err == io.EOF {
			return OutcomeComplete, rs.Skipped()
		}
		if err != nil {
			return failure(ctx, log, err), rs.Skipped()
		}
		s.Delta(ev.Delta)
		if !started && ev.Delta != "" {
			started = true
			first()
		}
	}
}

// failure maps an error of the RAG client to the error code the question
// ends with, and logs its cause.
func failure(ctx context.Context, log *slog.Logger, err error) string {
	code := CodeInternal
	var re *rag.Error
	switch {
	case errors.As(err, &re) && clientMessages[re.Code] != "":
		code = re.Code
	case ctx.Err() != nil:
		code = rag.CodeTimeout
	}
	log.Warn("RAG answer failed", "code", code, "err", err)
	return code
}
