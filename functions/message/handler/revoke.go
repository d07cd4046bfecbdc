package handler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/store"
)

// checkToken starts the check that conn's token is still current: the
// token version its socket connected with against the user's in the
// Users table (apigw.Current: a password change bumps it, revoking the
// earlier tokens and their sockets). The read runs while the caller goes
// on (with the question token: both need only conn), so a question waits
// no longer for it; the returned func waits for it and gives the
// rejection, TOKEN_EXPIRED when the token was revoked or the user is gone,
// INTERNAL when the read failed (the check fails closed). A revoked
// socket's connection is expired on the spot: its next questions get
// TOKEN_EXPIRED from the connection alone, taking no token of the user's
// bucket, and the room's answers no longer go to it. A connection stored
// before connections carried the version is not checked: it costs
// nothing and is refused by nothing, as before.
func (h *Handler) checkToken(ctx context.Context, log *slog.Logger, conn store.Connection) func() *rejection {
	id, ok := apigw.IdentityOf(conn)
	if !ok {
		return func() *rejection { return nil }
	}
	done := make(chan error, 1)
	go func() { done <- apigw.Current(ctx, h.Users, id) }()
	return func() *rejection {
		switch err := <-done; {
		case errors.Is(err, apigw.ErrInvalidToken):
			log.Info("question on a socket whose token was revoked (password changed) or whose user is gone", "userId", conn.UserID)
			h.expire(ctx, log, conn.ConnectionID)
			return &rejection{CodeTokenExpired, messageTokenExpired}
		case err != nil:
			log.Error("check the token version", "err", err)
			return &rejection{CodeInternal, clientMessages[CodeInternal]}
		}
		return nil
	}
}

// expireTimeout bounds the write that expires a revoked socket's
// connection.
const expireTimeout = 2 * time.Second

// expire ends a revoked socket's connection. A failure is logged only:
// the question is refused all the same, and the next one checks again.
func (h *Handler) expire(ctx context.Context, log *slog.Logger, connectionID string) {
	ctx, cancel := context.WithTimeout(ctx, expireTimeout)
	defer cancel()
	if err := h.Conns.ExpireConnection(ctx, connectionID, h.now()); err != nil {
		log.Error("expire the revoked socket's connection; its next question checks again", "err", err)
	}
}

// versions tells the revoked sockets of conn's room (apigw.Versions),
// conn's token known current: call it once checkToken has found it so.
func (h *Handler) versions(conn store.Connection) *apigw.Versions {
	if id, ok := apigw.IdentityOf(conn); ok {
		return apigw.NewVersions(h.Users, id)
	}
	return apigw.NewVersions(h.Users)
}
