// Package handler serves POST /api/customer/chatbot (room creation) for the ChatbotFunction Lambda.
package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// createAttempts bounds the retries on a room id collision.
const createAttempts = 5

// roomStore is what chatbot needs from the store.
type roomStore interface {
	CreateRoom(ctx context.Context, r store.Room) error
	TakeRoomSlot(ctx context.Context, companyID, userID string, lim store.Window, now time.Time) (store.Slot, error)
	apigw.UserReader // the token version (apigw.Current)
}

// Handler serves POST /api/customer/chatbot.
type Handler struct {
	store roomStore
	guard apigw.Guard
	limit store.Window
	log   *slog.Logger
	now   func() time.Time
	newID func() string
}

// New returns the room-creation handler; a user creates at most
// roomsPerHour rooms in an hour (a fixed window opened by the first).
func New(s roomStore, tokens *auth.Tokens, roomsPerHour int, log *slog.Logger) *Handler {
	return &Handler{store: s, guard: apigw.Guard{Tokens: tokens, Users: s, Role: store.UserRoleCustomer, Log: log}, limit: store.Window{Max: roomsPerHour, Window: time.Hour},
		log: log, now: time.Now, newID: store.NewRoomID}
}

var errRoomLimit = apigw.NewError(http.StatusTooManyRequests, apigw.CodeRoomLimit, "too many rooms created; try again later")

// Handle creates a chatbot room owned by the caller of a valid customer
// bearer token (else 401; an agent's token gets 403), at most the
// handler's rooms per hour (else 429 ROOM_LIMIT with Retry-After), and
// answers it in the trace's shape. The room id is
// fresh from crypto/rand and written conditionally, so an existing room is
// never overwritten; a collision is retried with a new id. It never
// returns an error: failures are responses.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	now := h.now()
	return h.guard.Serve(ctx, req, now, func(id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
		return h.create(ctx, id, now)
	})
}

// create creates id's room at now.
func (h *Handler) create(ctx context.Context, id auth.Identity, now time.Time) (events.APIGatewayV2HTTPResponse, error) {
	log := h.log.With("companyId", id.CompanyID, "userId", id.UserID)
	slot, err := h.store.TakeRoomSlot(ctx, id.CompanyID, id.UserID, h.limit, now)
	switch {
	case err != nil:
		log.Error("room limit check failed", "err", err)
		return events.APIGatewayV2HTTPResponse{}, err
	case !slot.Taken:
		log.Warn("room creation refused: limit", "resetAt", slot.ResetAt)
		return events.APIGatewayV2HTTPResponse{}, apigw.RetryLater{Err: errRoomLimit, After: slot.ResetAt.Sub(now)}
	}
	room := store.Room{
		CompanyID:      id.CompanyID,
		UserID:         id.UserID,
		RoomName:       id.UserID,
		Members:        []string{},
		Status:         store.RoomStatusBot,
		CreatedAt:      now.UnixMilli(),
		LastActivityAt: now.UnixMilli(),
	}
	for range createAttempts {
		room.RoomID = h.newID()
		err = h.store.CreateRoom(ctx, room)
		if !errors.Is(err, store.ErrExists) {
			break
		}
		log.Warn("room id collision", "roomId", room.RoomID)
	}
	if err != nil {
		log.Error("create room failed", "err", err)
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("create room: %w", err)
	}
	log.Info("room created", "roomId", room.RoomID)
	return apigw.HTTPJSON(http.StatusOK, apigw.RoomOf(room)), nil
}
