package handler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ragchat/ragchat/shared/relay"
)

// DefaultJoinInterval is how often the room's connections are looked up
// while an answer streams: a socket that joins mid-answer (a reconnect, a
// second device, an agent) gets the answer within about this long. At
// 1.2 s a 4-second answer costs three lookups, which keeps it within its
// budget of 10 DynamoDB requests (see Handler).
const DefaultJoinInterval = 1200 * time.Millisecond

// storeQuestion writes the question while it looks up the room's live
// connections, and returns those other than the caller's. A failed lookup
// is logged and answers the caller only (the lookups while the answer
// streams may still find the others).
func (h *Handler) storeQuestion(ctx context.Context, log *slog.Logger, t *turn) ([]string, error) {
	peers := make(chan []string, 1)
	go func() {
		ids, err := h.roomConnections(ctx, t.conn.RoomID)
		if err != nil {
			log.Error("list the room's connections; answering the caller only for now", "err", err)
		}
		peers <- ids
	}()
	putErr := h.History.PutMessage(ctx, t.question)
	var others []string
	for _, id := range <-peers {
		if id != t.conn.ConnectionID {
			others = append(others, id)
		}
	}
	return others, putErr
}

// roomConnections returns the ids of the room's live connections.
func (h *Handler) roomConnections(ctx context.Context, roomID string) ([]string, error) {
	cs, err := h.Conns.RoomConnections(ctx, roomID, h.now())
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ConnectionID)
	}
	return ids, err
}

// follow looks the room's connections up every JoinInterval while the
// answer streams and makes those s does not have yet recipients: their
// first frame has seq 1 and all the text so far. The returned stop ends
// the lookups and waits for the one in flight; call it before s ends.
func (h *Handler) follow(ctx context.Context, log *slog.Logger, s *relay.Stream, roomID string) (stop func()) {
	every := h.JoinInterval
	if every <= 0 {
		every = DefaultJoinInterval
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ids, err := h.roomConnections(ctx, roomID)
			if err != nil {
				log.Warn("look up the room's connections mid-answer", "err", err)
				continue
			}
			select {
			case <-done: // the answer ended during the lookup
				return
			default:
				s.Add(ids, nil)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
