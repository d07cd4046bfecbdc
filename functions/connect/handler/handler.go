// Package handler serves the websocket $connect route for the ConnectFunction Lambda.
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
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// connectionLifetime is the longest a stored connection counts as live:
// API Gateway closes every websocket after 2 hours, and a socket never
// outlives its token (expiresAt is the earlier of the two); $disconnect
// or a 410 removes it sooner.
const connectionLifetime = 2 * time.Hour

// connectStore is what connect needs from the store.
type connectStore interface {
	GetRoom(ctx context.Context, roomID string) (store.Room, error)
	PutConnection(ctx context.Context, c store.Connection) error
	capStore
	apigw.UserReader // the token version (apigw.Current)
}

// Handler serves the websocket $connect route.
type Handler struct {
	store  connectStore
	tokens *auth.Tokens
	log    *slog.Logger
	now    func() time.Time
	// Cap is the room's socket cap (cap.go); its zero value is no cap.
	Cap Cap
	// Metrics receives one line per handshake (metrics.go); nil means
	// standard output in the default namespace.
	Metrics *metrics.Emitter
}

func New(s connectStore, tokens *auth.Tokens, log *slog.Logger) *Handler {
	return &Handler{store: s, tokens: tokens, log: log, now: time.Now}
}

var (
	errNoToken = apigw.NewError(http.StatusUnauthorized, apigw.CodeUnauthorized, "missing token")
	// errNotYourRoom answers both an unknown room and a room of another
	// user or company, so that the handshake is no oracle for which room
	// ids exist.
	errNotYourRoom = apigw.NewError(http.StatusForbidden, apigw.CodeForbidden, "no such room for this user")
)

// mayConnect reports whether id may join room: a customer their own rooms,
// an agent any room of their company, nobody else anything.
func mayConnect(id auth.Identity, room store.Room) bool {
	switch id.Role {
	case store.UserRoleCustomer:
		return room.CompanyID == id.CompanyID && room.UserID == id.UserID
	case store.UserRoleAgent:
		return room.CompanyID == id.CompanyID
	}
	return false
}

// Handle accepts the handshake of $connect?token=<JWT>&roomId=<id> when
// the token verifies and the room exists and the token may join it (see
// mayConnect), and stores the connection (with the token's role;
// expiresAt the earlier of the token's exp and now + connectionLifetime,
// epoch seconds). It refuses with 401 for a missing or invalid token, 400
// for a missing or malformed roomId (or a parameter given twice), 403 for
// an unknown room or a room that is not the caller's, 429 when the room
// holds Cap.Max open sockets. It never returns an error: failures are
// responses.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	err := h.connect(ctx, req)
	h.connectMetrics(err)
	if err != nil {
		return apigw.WSError(err), nil
	}
	return apigw.WSOK(), nil
}

func (h *Handler) connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) error {
	connID := req.RequestContext.ConnectionID
	log := h.log.With("connectionId", connID)
	q, err := apigw.Query("", req.MultiValueQueryStringParameters, req.QueryStringParameters)
	if err != nil {
		return err
	}
	token, err := apigw.One(q, "token")
	if err != nil {
		return err
	}
	if token == "" {
		log.Info("connect refused: no token")
		return errNoToken
	}
	now := h.now()
	id, exp, err := h.tokens.VerifyExpiry(token, now)
	if err != nil {
		log.Info("connect refused: token", "err", err)
		return apigw.ErrInvalidToken
	}
	log = log.With("companyId", id.CompanyID, "userId", id.UserID)
	roomID, err := apigw.One(q, "roomId")
	if err != nil {
		return err
	}
	if !store.ValidRoomID(roomID) {
		return apigw.BadRequest("missing or invalid roomId")
	}
	log = log.With("roomId", roomID)
	// The token's version is read while the room is: one round trip for
	// both. The room decides first, as when they were read in turn.
	current := make(chan error, 1)
	go func() { current <- apigw.Current(ctx, h.store, id) }()
	room, err := h.store.GetRoom(ctx, roomID)
	versionErr := <-current
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Info("connect refused: unknown room")
		return errNotYourRoom
	case err != nil:
		log.Error("get room failed", "err", err)
		return err
	case !mayConnect(id, room):
		log.Warn("connect refused: room of another user", "roomCompanyId", room.CompanyID, "role", id.Role)
		return errNotYourRoom
	}
	switch err := versionErr; {
	case errors.Is(err, apigw.ErrInvalidToken):
		log.Info("connect refused: token revoked (password changed) or user gone")
		return apigw.ErrInvalidToken
	case err != nil:
		log.Error("token version check failed", "err", err)
		return err
	}
	if connID == "" {
		log.Error("connect event without connectionId")
		return errors.New("connect event without connectionId")
	}
	rc := req.RequestContext
	expiresAt := min(exp.Unix(), now.Add(connectionLifetime).Unix())
	slot, err := h.Cap.admit(ctx, h.store, log, relay.Endpoint(h.Cap.CallbackURL, rc.DomainName, rc.Stage), roomID, connID, expiresAt, now)
	if err != nil {
		return err
	}
	err = h.store.PutConnection(ctx, store.Connection{
		ConnectionID: connID,
		RoomID:       roomID,
		UserID:       id.UserID,
		UserName:     id.Name,
		CompanyID:    id.CompanyID,
		Role:         id.Role,
		ConnectedAt:  now.UnixMilli(),
		ExpiresAt:    expiresAt,
		Slot:         slot,
		TokenVersion: &id.Version,
	})
	if err != nil {
		log.Error("put connection failed", "err", err)
		if slot != "" {
			if ferr := h.store.FreeSocketSlot(ctx, slot, connID); ferr != nil {
				log.Error("give back the socket slot", "slot", slot, "err", ferr) // its holder never opens: GET says 410
			}
		}
		return fmt.Errorf("connect %s: %w", connID, err)
	}
	log.Info("connected")
	return nil
}
