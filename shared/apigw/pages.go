package apigw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/store"
)

// The HTTP reads of rooms and histories (DESIGN.md, "GET
// /api/customer/rooms" and "GET /api/customer/rooms/{roomId}/messages"),
// which customers and agents share: page sizes, the page shapes and the
// history read with its access rule.

// Page sizes: default and largest.
const (
	defaultRooms, maxRooms       = 20, 100
	defaultMessages, maxMessages = 50, 200
)

// RoomsPage is a page of a room listing.
type RoomsPage struct {
	Rooms      []Room  `json:"rooms"`
	NextCursor *string `json:"nextCursor"`
}

// roomsPageOf is p in the HTTP API's shape.
func roomsPageOf(p store.RoomPage) RoomsPage {
	out := RoomsPage{Rooms: make([]Room, len(p.Rooms)), NextCursor: cursor(p.Next)}
	for i, r := range p.Rooms {
		out.Rooms[i] = RoomOf(r)
	}
	return out
}

// MessagesPage is a page of a room's history.
type MessagesPage struct {
	RoomID     string    `json:"roomId"`
	Status     string    `json:"status"`
	Messages   []Message `json:"messages"`
	NextCursor *string   `json:"nextCursor"`
}

// ErrRoomNotFound answers an unknown room and a room the caller may not
// read alike.
var ErrRoomNotFound = NewError(http.StatusNotFound, CodeRoomNotFound, "no such room")

// ListRooms answers a page of a room listing: ?limit= (1..maxRooms,
// default defaultRooms) and ?cursor= (a nextCursor list handed out) of q,
// asked of list. A cursor list refuses (store.ErrBadCursor) is a 400;
// other errors are list's.
func ListRooms(q url.Values, list func(limit int, cursor string) (store.RoomPage, error)) (RoomsPage, error) {
	limit, cursor, err := pageOf(q, defaultRooms, maxRooms, "cursor")
	if err != nil {
		return RoomsPage{}, err
	}
	page, err := list(limit, cursor)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return RoomsPage{}, BadRequest("invalid cursor")
	case err != nil:
		return RoomsPage{}, err
	}
	return roomsPageOf(page), nil
}

// pageOf reads which page q asks for: its size (?limit=: def when
// absent, else an integer in 1..max) and the cursor in parameter
// cursorParam, each given at most once.
func pageOf(q url.Values, def, max int, cursorParam string) (limit int, cursor string, err error) {
	v, err := One(q, "limit")
	if err != nil {
		return 0, "", err
	}
	limit = def
	if v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > max {
			return 0, "", BadRequest("limit must be an integer from 1 to %d", max)
		}
	}
	if cursor, err = One(q, cursorParam); err != nil {
		return 0, "", err
	}
	return limit, cursor, nil
}

// cursor is s, or nil (JSON null) when empty.
func cursor(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Historian reads rooms and their history. *store.Store implements it.
type Historian interface {
	GetRoom(ctx context.Context, roomID string) (store.Room, error)
	History(ctx context.Context, roomID string, limit int, before string) (store.MessagePage, error)
}

// ReadHistory answers a history read (path parameter roomId, ?limit=
// 1..200 default 50, ?before= a nextCursor of this room) for a caller who
// may read the rooms for which may is true: the newest page before the
// cursor, oldest first. An unknown room and one the caller may not read
// are ErrRoomNotFound alike; bad input is a 400 *Error (a cursor this
// room did not hand out included); other errors are the store's.
func ReadHistory(ctx context.Context, s Historian, req events.APIGatewayV2HTTPRequest, may func(store.Room) bool) (MessagesPage, error) {
	roomID := req.PathParameters["roomId"]
	if !store.ValidRoomID(roomID) {
		return MessagesPage{}, BadRequest("invalid room id")
	}
	q, err := Query(req.RawQueryString, nil, req.QueryStringParameters)
	if err != nil {
		return MessagesPage{}, err
	}
	limit, before, err := pageOf(q, defaultMessages, maxMessages, "before")
	if err != nil {
		return MessagesPage{}, err
	}
	room, err := s.GetRoom(ctx, roomID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !may(room):
		return MessagesPage{}, ErrRoomNotFound
	case err != nil:
		return MessagesPage{}, fmt.Errorf("read history: %w", err)
	}
	page, err := s.History(ctx, roomID, limit, before)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return MessagesPage{}, BadRequest("invalid before cursor")
	case err != nil:
		return MessagesPage{}, fmt.Errorf("read history: %w", err)
	}
	out := MessagesPage{RoomID: roomID, Status: room.Status, Messages: make([]Message, len(page.Messages)), NextCursor: cursor(page.Next)}
	for i, m := range page.Messages {
		out.Messages[i] = MessageOf(m)
	}
	return out, nil
}
