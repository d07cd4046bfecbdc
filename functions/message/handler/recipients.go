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
		ids, err := h.roomConnections(ctx, log, t)
		if err != nil {
			log.Error("list the room's connections; answering the caller only for now", "err", err)
		}
		peers <- ids
	}()
	putErr := h.History.PutMessage(ctx, t.question)
	return allBut(<-peers, t.conn.ConnectionID), putErr
}

// allBut is ids without the caller's.
func allBut(ids []string, caller string) []string {
	var out []string
	for _, id := range ids {
		if id != caller {
			out = append(out, id)
		}
	}
	return out
}

// roomConnections returns the ids of the live connections of t's room but
// for those revoked (apigw.Versions): sockets whose token a password
// change has revoked since they connected get none of the room's frames
// (a stolen token's socket stops reading the conversation at the reset),
// and their connections are expired, as a revoked socket's question
// expires it. The asker's token was found current (checkToken), so its
// user's sockets are told apart at no request; another user's sockets in
// the room (an agent's, the customer's when an agent writes) cost one
// GetItem on Users per user and turn. Expiring a revoked socket costs one
// UpdateItem, once: an expired connection is no longer live, so later
// lookups do not list it (one that the byRoom index has not caught up
// with may, and its expiry changes nothing). A failed user read is logged
// and leaves that user's sockets listed.
func (h *Handler) roomConnections(ctx context.Context, log *slog.Logger, t *turn) ([]string, error) {
	cs, err := h.Conns.RoomConnections(ctx, t.conn.RoomID, h.now())
	revoked, verr := t.versions.Revoked(ctx, cs)
	if verr != nil {
		log.Error("read the token versions of the room's other users; their sockets get the frames", "err", verr)
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		if revoked[c.ConnectionID] {
			log.Info("a socket connected before its user's password reset gets nothing", "revokedConnectionId", c.ConnectionID)
			h.expire(ctx, log, c.ConnectionID)
			continue
		}
		ids = append(ids, c.ConnectionID)
	}
	return ids, err
}

// follow looks the room's connections up every JoinInterval while the
// answer streams and makes those s does not have yet recipients: their
// first frame has seq 1 and all the text so far. The returned stop ends
// the lookups and waits for the one in flight; call it before s ends.
func (h *Handler) follow(ctx context.Context, log *slog.Logger, s *relay.Stream, t *turn) (stop func()) {
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
			ids, err := h.roomConnections(ctx, log, t)
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
