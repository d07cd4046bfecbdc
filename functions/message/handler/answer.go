package handler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// DefaultCheckpointInterval is how often a streaming answer's text is
// written: a function killed mid-answer leaves in the history the text
// streamed until at most this long before.
const DefaultCheckpointInterval = 5 * time.Second

// answerItem writes a turn's answer item: with outcome streaming when the
// answer's first text goes out, again every CheckpointInterval while it
// streams, and a last time with its outcome. The writes are sequential,
// so a checkpoint never overwrites the ending.
type answerItem struct {
	h       *Handler
	ctx     context.Context
	log     *slog.Logger
	msg     store.Message
	s       *relay.Stream
	first   chan struct{} // closed by started
	done    chan struct{} // closed by finish: no more checkpoints
	stopped chan struct{} // closed when the checkpoint goroutine returns
	once    sync.Once
}

// writeAnswer starts the checkpoints of t's answer, whose text is s's.
func (h *Handler) writeAnswer(ctx context.Context, log *slog.Logger, t *turn, s *relay.Stream) *answerItem {
	a := &answerItem{
		h: h, ctx: ctx, log: log, s: s,
		msg: store.Message{
			RoomID: t.conn.RoomID, At: t.answerAt, MessageID: t.answerID, Role: store.RoleBot,
			Category1: t.q.Category1, Category2: t.q.Category2,
		},
		first: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{}),
	}
	go a.checkpoints()
	return a
}

// started marks the answer's first text: its item is written at once.
func (a *answerItem) started() { a.once.Do(func() { close(a.first) }) }

func (a *answerItem) checkpoints() {
	defer close(a.stopped)
	select {
	case <-a.first:
	case <-a.done:
		return
	}
	every := a.h.CheckpointInterval
	if every <= 0 {
		every = DefaultCheckpointInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		a.put(store.OutcomeStreaming)
		select {
		case <-tick.C:
		case <-a.done:
			return
		}
	}
}

// finish stops the checkpoints and writes the answer with its outcome; it
// returns the text stored.
func (a *answerItem) finish(outcome string) string {
	close(a.done)
	<-a.stopped
	return a.put(outcome)
}

// put writes the answer's text so far with outcome and returns that text.
func (a *answerItem) put(outcome string) string {
	m := a.msg
	m.Text, m.Outcome = a.s.Text(), outcome // capped by the stream (cap.go): what was sent
	if err := a.h.History.PutMessage(a.ctx, m); err != nil {
		a.log.Error("store the answer", "messageId", m.MessageID, "outcome", outcome, "err", err)
	}
	return m.Text
}
