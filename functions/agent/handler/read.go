package handler

import (
	"context"
	"errors"
	"net/http"

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
	page, err := apigw.ListRooms(q, func(limit int, cursor string) (store.RoomPage, error) {
		page, err := h.store.RoomsByStatus(ctx, id.CompanyID, status, limit, cursor)
		if err != nil && !errors.Is(err, store.ErrBadCursor) {
			h.log.Error("list rooms", "companyId", id.CompanyID, "status", status, "err", err)
		}
		return page, err
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return apigw.HTTPJSON(http.StatusOK, page), nil
}

// roomMessages answers a page of the history of a room of the agent's
// company: the newest ?limit= (1..200, default 50) messages before
// ?before=, oldest first. Unknown rooms and rooms of other companies are
// 404 alike.
func (h *Handler) roomMessages(ctx context.Context, req events.APIGatewayV2HTTPRequest, id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
	page, err := apigw.ReadHistory(ctx, h.store, req, func(r store.Room) bool { return r.CompanyID == id.CompanyID })
	if err != nil {
		var ae *apigw.Error
		if !errors.As(err, &ae) {
			h.log.Error("read history", "roomId", req.PathParameters["roomId"], "err", err)
		}
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return apigw.HTTPJSON(http.StatusOK, page), nil
}
