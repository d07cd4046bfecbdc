// Package handler serves the agents' room routes for the AgentFunction
// Lambda: POST /api/agent/rooms/{roomId}/claim, /release and /close, and
// the agents' reads GET /api/agent/rooms and
// GET /api/agent/rooms/{roomId}/messages (read.go).
package handler

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/handoff"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/store"
)

// agentStore is what the agent routes need from the store.
type agentStore interface {
	ClaimRoom(ctx context.Context, companyID, roomID string, a store.Agent, atMs int64) (store.Room, bool, error)
	ReleaseRoom(ctx context.Context, companyID, roomID, agentID string, atMs int64) (store.Room, error)
	CloseRoom(ctx context.Context, companyID, roomID, agentID string, atMs int64) (store.Room, error)
	GetRoom(ctx context.Context, roomID string) (store.Room, error)
	RoomsByStatus(ctx context.Context, companyID, status string, limit int, cursor string) (store.RoomPage, error)
	History(ctx context.Context, roomID string, limit int, before string) (store.MessagePage, error)
	handoff.Store
	apigw.UserReader // the token version (apigw.Current)
}

// Handler serves claim, release and close.
type Handler struct {
	store  agentStore
	guard  apigw.Guard
	poster handoff.Poster
	log    *slog.Logger
	now    func() time.Time
	// Metrics receives HandoffTransitions (shared/handoff); nil means
	// standard output in the default namespace.
	Metrics *metrics.Emitter
}

// New returns the handler; poster reaches the WebSocket API's @connections.
func New(s agentStore, tokens *auth.Tokens, poster handoff.Poster, log *slog.Logger) *Handler {
	return &Handler{store: s, guard: apigw.Guard{Tokens: tokens, Users: s, Role: store.UserRoleAgent, Log: log}, poster: poster, log: log, now: time.Now}
}

var (
	errAlreadyAssigned = apigw.NewError(http.StatusConflict, apigw.CodeAlreadyAssigned, "another agent holds this room")
	errRoomClosed      = apigw.NewError(http.StatusConflict, apigw.CodeRoomClosed, "the room is closed")
	errNotAssigned     = apigw.NewError(http.StatusConflict, apigw.CodeNotAssigned, "you do not hold this room")
)

// Handle answers the reads (read.go), or runs one transition, for the
// agent of a valid AGENT bearer token
// (else 401; a customer's token gets 403) on a room of the agent's
// company, and answers the room as it is after it (the trace's room
// shape):
//
//   - claim: from BOT or WAITING the room becomes AGENT, held by the
//     caller; again by the holder it changes nothing; 409 ALREADY_ASSIGNED
//     when another agent holds it;
//   - release: the holder hands the room back to the bot (BOT);
//   - close: the holder ends it (CLOSED);
//   - 409 NOT_ASSIGNED for release or close by anyone but the holder,
//     409 ROOM_CLOSED for anything on a closed room, 404 ROOM_NOT_FOUND
//     for an unknown room and a room of another company alike, 400 for a
//     malformed room id.
//
// Every change stores a system message and sends a status frame to every
// socket of the room (handoff.Announce); a refusal changes nothing. It
// never returns an error: failures are responses.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	now := h.now()
	return h.guard.Serve(ctx, req, now, func(id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
		return h.serve(ctx, req, id, now)
	})
}

// serve answers req of the agent id at now.
func (h *Handler) serve(ctx context.Context, req events.APIGatewayV2HTTPRequest, id auth.Identity, now time.Time) (events.APIGatewayV2HTTPResponse, error) {
	switch req.RouteKey {
	case RouteRooms:
		return h.listRooms(ctx, req, id)
	case RouteMessages:
		return h.roomMessages(ctx, req, id)
	}
	roomID := req.PathParameters["roomId"]
	if !store.ValidRoomID(roomID) {
		return events.APIGatewayV2HTTPResponse{}, apigw.BadRequest("invalid room id")
	}
	action := req.RouteKey[strings.LastIndexByte(req.RouteKey, '/')+1:]
	log := h.log.With("companyId", id.CompanyID, "agentId", id.UserID, "roomId", roomID, "action", action)
	at := now.UnixMilli()
	var (
		room    store.Room
		changed = true
		event   string
		err     error
	)
	switch action {
	case "claim":
		event = store.EventAgentJoined
		room, changed, err = h.store.ClaimRoom(ctx, id.CompanyID, roomID, store.Agent{UserID: id.UserID, Name: id.Name}, at)
	case "release":
		event = store.EventAgentLeft
		room, err = h.store.ReleaseRoom(ctx, id.CompanyID, roomID, id.UserID, at)
	case "close":
		event = store.EventRoomClosed
		room, err = h.store.CloseRoom(ctx, id.CompanyID, roomID, id.UserID, at)
	default:
		log.Error("route not served by this function", "routeKey", req.RouteKey)
		return events.APIGatewayV2HTTPResponse{}, apigw.ErrUnknownRoute
	}
	if err != nil {
		refusal := refusalOf(err)
		if refusal == nil {
			log.Error("transition failed", "err", err)
			return events.APIGatewayV2HTTPResponse{}, err
		}
		log.Info("transition refused", "code", refusal.Code, "status", room.Status)
		return events.APIGatewayV2HTTPResponse{}, refusal
	}
	if changed {
		change := handoff.Change{Room: room, Event: event, AgentName: id.Name}
		actx, cancel := announceContext(ctx)
		res, err := handoff.Announce(actx, h.store, h.poster, change, now, apigw.NewVersions(h.store, id))
		cancel()
		if err != nil {
			log.Error("announce the change", "err", err) // the change stands
		}
		log.Info("room changed", "status", room.Status, "sockets", res.Frames, "gone", len(res.Gone), "failed", len(res.Failed))
		handoff.CountTransition(h.Metrics, "agent", change)
	}
	return apigw.HTTPJSON(http.StatusOK, apigw.RoomOf(room)), nil
}

// announceMargin is how long before the Lambda deadline the announcement
// of a change gives up its posts, so that the answer still goes out.
const announceMargin = time.Second

// announceContext bounds an announcement to the Lambda deadline less
// announceMargin (no bound without a deadline).
func announceContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-announceMargin))
	}
	return context.WithCancel(ctx)
}

// refusalOf is the client error of a refused transition, nil for any
// other error.
func refusalOf(err error) *apigw.Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apigw.ErrRoomNotFound
	case errors.Is(err, store.ErrAlreadyAssigned):
		return errAlreadyAssigned
	case errors.Is(err, store.ErrRoomClosed):
		return errRoomClosed
	case errors.Is(err, store.ErrNotAssigned):
		return errNotAssigned
	}
	return nil
}
