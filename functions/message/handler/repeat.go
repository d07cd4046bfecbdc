package handler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// DefaultStaleAfter is how long after its question a repeat record whose
// answer has not ended is taken for one whose function died: longer than
// the message function's Timeout (120 s in template.yaml).
const DefaultStaleAfter = 3 * time.Minute

// settleRepeat claims t's clientMessageId for t (one conditional write
// decides between simultaneous sends) and reports false: t is to be asked.
// When the room already holds the id it answers the repeat instead and
// reports true:
//   - its answer has ended: the caller gets it again as answer frames of
//     the original messageId, seq from 1, ending as it ended;
//   - its answer is still streaming (or not started): nothing is sent;
//     the caller is a recipient, or becomes one at the next lookup of the
//     room's connections;
//   - its function died (StaleAfter passed without an ending): an answer
//     that had started is sent again ending with RAG_STREAM_INTERRUPTED;
//     a question that was never stored is taken over and asked as t; one
//     stored without an answer (a message relayed to a person, or a
//     question whose function died before its first frame) is not stored
//     again.
//
// When the record cannot be read or written the question is asked: an
// outage of the repeat record never costs the customer an answer.
func (h *Handler) settleRepeat(ctx context.Context, r *relay.Relay, log *slog.Logger, t *turn) bool {
	old, claimed, err := h.History.ClaimRepeat(ctx, t.repeat())
	if err != nil {
		log.Error("claim the clientMessageId; asking without repeat protection", "err", err)
		return false
	}
	if claimed {
		return false
	}
	log = log.With("messageId", old.AnswerID)
	stale := t.started.Sub(time.UnixMilli(old.AskedAt)) > h.staleAfter()
	answer, err := h.History.GetMessage(ctx, old.RoomID, old.AnswerAt, old.AnswerID)
	switch {
	case errors.Is(err, store.ErrNotFound) && stale:
		if _, qerr := h.History.GetMessage(ctx, old.RoomID, old.AskedAt, old.QuestionID); qerr == nil {
			log.Info("repeat of a message stored without an answer: nothing to send again")
			return true
		}
		won, err := h.History.TakeOverRepeat(ctx, t.repeat(), old)
		if err != nil || !won {
			log.Warn("repeat of a question never answered: not taken over", "won", won, "err", err)
			return true
		}
		log.Info("repeat of a question never answered: asking it again")
		return false
	case errors.Is(err, store.ErrNotFound):
		log.Info("repeat of a question whose answer has not started: the caller joins it")
		return true
	case err != nil:
		log.Error("read the repeated question's answer", "err", err)
		h.rejectQuestion(ctx, r, t.conn.ConnectionID, t.conn.RoomID, t.q, &rejection{CodeInternal, clientMessages[CodeInternal]})
		return true
	case answer.Outcome == store.OutcomeStreaming && !stale:
		log.Info("repeat of a question whose answer streams: the caller joins it")
		return true
	}
	outcome := answer.Outcome
	if outcome == store.OutcomeStreaming {
		outcome = rag.CodeInterrupted
	}
	s := r.Start(ctx, relay.Answer{SessionID: old.RoomID, MessageID: old.AnswerID, ClientMessageID: old.ClientMessageID}, []string{t.conn.ConnectionID})
	s.Delta(answer.Text)
	if outcome == OutcomeComplete {
		s.Complete()
	} else {
		s.Fail(outcome, clientMessage(outcome))
	}
	res := s.Wait()
	log.Info("repeat answered from the history", "outcome", outcome, "answerBytes", len(answer.Text), "frames", res.Frames)
	return true
}

// releaseRepeat gives t's clientMessageId back after t was refused, so
// that the client may send it again.
func (h *Handler) releaseRepeat(ctx context.Context, log *slog.Logger, t *turn) {
	if t.q.ClientMessageID == "" {
		return
	}
	if err := h.History.ReleaseRepeat(ctx, t.repeat()); err != nil {
		log.Warn("release the clientMessageId", "err", err)
	}
}

func (h *Handler) staleAfter() time.Duration {
	if h.StaleAfter > 0 {
		return h.StaleAfter
	}
	return DefaultStaleAfter
}
