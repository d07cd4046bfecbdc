// Package handler serves the customers' reads for the HistoryFunction
// Lambda: GET /api/customer/rooms (the caller's rooms, newest first) and
// GET /api/customer/rooms/{roomId}/messages (a room's history). It only
// reads: the Rooms table and its byOwner index, and the Messages table.
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

// Route keys the handler serves.
const (
	RouteRooms    = "GET /api/customer/rooms"
	RouteMessages = "GET /api/customer/rooms/{roomId}/messages"
)

// Store is what the reads need. *store.Store implements it.
type Store interface {
	apigw.Historian
	RoomsOfOwner(ctx context.Context, companyID, userID string, limit int, cursor string) (store.RoomPage, error)
	apigw.UserReader // the token version (apigw.Current)
}

// Handler serves the customers' reads.
type Handler struct {
	store Store
	guard apigw.Guard
	log   *slog.Logger
	now   func() time.Time
}

// New returns the handler.
func New(s Store, tokens *auth.Tokens, log *slog.Logger) *Handler {
	return &Handler{store: s, guard: apigw.Guard{Tokens: tokens, Users: s, Role: store.UserRoleCustomer, Log: log}, log: log, now: time.Now}
}

// Handle answers a read for the customer of a valid CUSTOMER bearer token
// (else 401; an agent's token gets 403, the agents read through
// /api/agent/…):
//
//   - GET /api/customer/rooms: {"rooms":[…],"nextCursor":…}, the caller's
//     rooms newest first, ?limit= 1..100 (default 20) after ?cursor= (the
//     nextCursor of the page before; null on the last page);
//   - GET /api/customer/rooms/{roomId}/messages: {"roomId","status",
//     "messages":[…],"nextCursor"}, the newest ?limit= 1..200 (default 50)
//     messages before ?before=, oldest first within the page; a room of
//     another customer is 404 ROOM_NOT_FOUND like an unknown one.
//
// Bad input (a malformed room id, limit or cursor, a parameter given
// twice) is 400 and reads nothing more. It never returns an error:
// failures are responses.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.guard.Serve(ctx, req, h.now(), func(id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
		resp, err := h.read(ctx, req, id)
		var ae *apigw.Error
		if err != nil && !errors.As(err, &ae) {
			h.log.Error("read failed", "routeKey", req.RouteKey, "err", err)
		}
		return resp, err
	})
}

// read answers the read req of the customer id.
func (h *Handler) read(ctx context.Context, req events.APIGatewayV2HTTPRequest, id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
	switch req.RouteKey {
	case RouteRooms:
		return h.rooms(ctx, req, id)
	case RouteMessages:
		page, err := apigw.ReadHistory(ctx, h.store, req, func(r store.Room) bool {
			return r.CompanyID == id.CompanyID && r.UserID == id.UserID
		})
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return apigw.HTTPJSON(http.StatusOK, page), nil
	}
	h.log.Error("route not served by this function", "routeKey", req.RouteKey)
	return events.APIGatewayV2HTTPResponse{}, apigw.ErrUnknownRoute
}

// rooms answers the caller's rooms, newest first.
func (h *Handler) rooms(ctx context.Context, req events.APIGatewayV2HTTPRequest, id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
	q, err := apigw.Query(req.RawQueryString, nil, req.QueryStringParameters)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	page, err := apigw.ListRooms(q, func(limit int, cursor string) (store.RoomPage, error) {
		page, err := h.store.RoomsOfOwner(ctx, id.CompanyID, id.UserID, limit, cursor)
		if err != nil {
			return page, fmt.Errorf("rooms of %s/%s: %w", id.CompanyID, id.UserID, err)
		}
		return page, nil
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return apigw.HTTPJSON(http.StatusOK, page), nil
}
