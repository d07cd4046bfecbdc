package handler

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// The agents' reads: GET /api/agent/rooms?status=… (the queue) and
// GET /api/agent/rooms/{roomId}/messages (a room's history).

// Route keys of the reads.
const (
	RouteRooms    = "GET /api/agent/rooms"
	RouteMessages = "GET /api/agent/rooms/{roomId}/messages"
)

// Page sizes: default and largest.
const (
	defaultRooms, maxRooms       = 20, 100
	defaultMessages, maxMessages = 50, 200
)

// roomsPage is the answer of GET /api/agent/rooms.
type roomsPage struct {
	Rooms      []apigw.Room `json:"rooms"`
	NextCursor *string      `json:"nextCursor"`
}

// messagesPage is the answer of GET /api/agent/rooms/{roomId}/messages.
type messagesPage struct {
	RoomID     string          `json:"roomId"`
	Status     string          `json:"status"`
	Messages   []apigw.Message `json:"messages"`
	NextCursor *string         `json:"nextCursor"`
}

var statuses = map[string]bool{
	store.RoomStatusWaiting: true, store.RoomStatusAgent: true, store.RoomStatusBot: true, store.RoomStatusClosed: true,
}

// listRooms answers the agent's company's rooms in ?status= (WAITING when
// absent), a page of ?limit= (1..100, default 20) after ?cursor=.
func (h *Handler) listRooms(ctx context.Context, req events.APIGatewayV2HTTPRequest, id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
	q, err := apigw.Query(req.RawQueryString, nil, req.QueryStringParameters)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	status, err := apigw.One(q, "status")
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if status == "" {
		status = store.RoomStatusWaiting
	}
	if !statuses[status] {
		return events.APIGatewayV2HTTPResponse{}, apigw.BadRequest("status must be WAITING, AGENT, BOT or CLOSED")
	}
	limit, err := limitOf(q.Get("limit"), q["limit"], defaultRooms, maxRooms)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	cursor, err := apigw.One(q, "cursor")
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	page, err := h.store.RoomsByStatus(ctx, id.CompanyID, status, limit, cursor)
	if errors.Is(err, store.ErrBadCursor) {
		return events.APIGatewayV2HTTPResponse{}, apigw.BadRequest("invalid cursor")
	}
	if err != nil {
		h.log.Error("list rooms", "companyId", id.CompanyID, "status", status, "err", err)
		return events.APIGatewayV2HTTPResponse{}, err
	}
	out := roomsPage{Rooms: make([]apigw.Room, len(page.Rooms)), NextCursor: optional(page.Next)}
	for i, r := range page.Rooms {
		out.Rooms[i] = apigw.RoomOf(r)
	}
	return apigw.HTTPJSON(http.StatusOK, out), nil
}

// roomMessages answers a page of the history of a room of the agent's
// company: the newest ?limit= (1..200, default 50) messages before
// ?before=, oldest first. Unknown rooms and rooms of other companies are
// 404 alike.
func (h *Handler) roomMessages(ctx context.Context, req events.APIGatewayV2HTTPRequest, id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
	roomID := req.PathParameters["roomId"]
	if !store.ValidRoomID(roomID) {
		return events.APIGatewayV2HTTPResponse{}, apigw.BadRequest("invalid room id")
	}
	q, err := apigw.Query(req.RawQueryString, nil, req.QueryStringParameters)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	limit, err := limitOf(q.Get("limit"), q["limit"], defaultMessages, maxMessages)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	before, err := apigw.One(q, "before")
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	room, err := h.store.GetRoom(ctx, roomID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && room.CompanyID != id.CompanyID:
		return events.APIGatewayV2HTTPResponse{}, errRoomNotFound
	case err != nil:
		h.log.Error("get room", "roomId", roomID, "err", err)
		return events.APIGatewayV2HTTPResponse{}, err
	}
	page, err := h.store.History(ctx, roomID, limit, before)
	if errors.Is(err, store.ErrBadCursor) {
		return events.APIGatewayV2HTTPResponse{}, apigw.BadRequest("invalid before cursor")
	}
	if err != nil {
		h.log.Error("read history", "roomId", roomID, "err", err)
		return events.APIGatewayV2HTTPResponse{}, err
	}
	out := messagesPage{RoomID: roomID, Status: room.Status, Messages: make([]apigw.Message, len(page.Messages)), NextCursor: optional(page.Next)}
	for i, m := range page.Messages {
		out.Messages[i] = apigw.MessageOf(m)
	}
	return apigw.HTTPJSON(http.StatusOK, out), nil
}

// limitOf parses ?limit= (given at most once): def when absent, else an
// integer in 1..max.
func limitOf(v string, all []string, def, max int) (int, error) {
	switch {
	case len(all) > 1:
		return 0, apigw.BadRequest("limit given more than once")
	case v == "":
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, apigw.BadRequest("limit must be an integer from 1 to %d", max)
	}
	return n, nil
}

// optional is s, or nil (JSON null) when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
