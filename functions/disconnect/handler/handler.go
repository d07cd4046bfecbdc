// Package handler serves the websocket $disconnect route for the DisconnectFunction Lambda.
package handler

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/apigw"
)

// disconnectStore is what disconnect needs from the store.
type disconnectStore interface {
	DeleteConnection(ctx context.Context, connectionID string) error
}

// Handler serves the websocket $disconnect route.
type Handler struct {
	store disconnectStore
	log   *slog.Logger
}

func New(s disconnectStore, log *slog.Logger) *Handler {
	return &Handler{store: s, log: log}
}

// Handle deletes the connection's item and gives back the room's socket
// slot it holds (store.DeleteConnection). It always answers 200 (API Gateway
// ignores the answer; the connection is gone either way): deleting twice
// or deleting an unknown connection is fine, and a failed delete is only
// logged, since readers skip expired connections and the relay removes
// dead ones on 410 (a slot left held is taken over by the next $connect
// that finds its socket gone, or when it expires).
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	log := h.log.With("connectionId", rc.ConnectionID, "disconnectStatusCode", rc.DisconnectStatusCode)
	if rc.ConnectionID == "" {
		log.Warn("disconnect event without connectionId")
		return apigw.WSOK(), nil
	}
	if err := h.store.DeleteConnection(ctx, rc.ConnectionID); err != nil {
		log.Error("delete connection failed", "err", err)
		return apigw.WSOK(), nil
	}
	reason := ""
	if rc.DisconnectReason != nil {
		reason = *rc.DisconnectReason
	}
	log.Info("disconnected", "reason", reason)
	return apigw.WSOK(), nil
}
