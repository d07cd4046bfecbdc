package handler

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// Deltas takes an answer's text one RAG delta at a time. *relay.Stream
// implements it: Delta never waits on the network, and what arrives while
// a post is in flight is coalesced into the next frame.
type Deltas interface {
	Delta(text string)
}

// deltas is where stream feeds s's answer: s itself, or Handler.Feed's
// wrapping of it.
func (h *Handler) deltas(s *relay.Stream) Deltas {
	if h.Feed != nil {
		return h.Feed(s)
	}
	return s
}

// stream asks the RAG service and feeds its answer to s until the answer
// ends, fails, outgrows an item (CodeAnswerTooLong, cap.go), or ctx
// (answerTime: DeadlineMargin before the Lambda deadline) ends; first is
// called once, when the answer's first text goes to s. It returns the
// outcome (OutcomeComplete or an error code) and the number of malformed
// lines skipped.
func (h *Handler) stream(ctx context.Context, log *slog.Logger, s *relay.Stream, req rag.Request, first func()) (string, int) {
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
	var n int // the answer's bytes so far
	feed := h.deltas(s)
	for {
		ev, err := rs.Next()
		if err == io.EOF {
			return OutcomeComplete, rs.Skipped()
		}
		if err != nil {
			return failure(ctx, log, err), rs.Skipped()
		}
		fits := capped(feed, &n, ev.Delta)
		if !started && n > 0 {
			started = true
			first()
		}
		if !fits {
			log.Warn("answer over the stored answer limit; ending it", "limitBytes", store.MaxMessageTextBytes)
			return CodeAnswerTooLong, rs.Skipped()
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
