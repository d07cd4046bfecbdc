package handler

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/store"
)

// Prober asks @connections whether a connection is still open (GET
// @connections/{id}). *apigatewaymanagementapi.Client implements it.
type Prober interface {
	GetConnection(ctx context.Context, in *apigatewaymanagementapi.GetConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error)
}

// Cap is the room's socket cap (MAX_ROOM_CONNECTIONS).
type Cap struct {
	Max   int                          // live connections per room; 0 means no cap
	Store capStore                     // the room's connections
	Probe func(endpoint string) Prober // the @connections client of an endpoint
	// CallbackURL is CALLBACK_URL; "" means the event's https://{domainName}/{stage}.
	CallbackURL string
}

// capStore is what the cap needs from the store.
type capStore interface {
	RoomConnections(ctx context.Context, roomID string, now time.Time) ([]store.Connection, error)
	DeleteConnection(ctx context.Context, connectionID string) error
}

// probeTimeout bounds each @connections GET.
const probeTimeout = time.Second

var errRoomFull = apigw.NewError(http.StatusTooManyRequests, apigw.CodeTooManySockets,
	"this room has the most connections it may have; close another tab or device and try again")

// admit decides whether one more socket may join room roomID. When the
// room's live items are at the cap it asks @connections about them, oldest
// first, and deletes those that are gone (their $disconnect was lost),
// until one place is free; it refuses only when every item it checked is
// a socket still open. A GET that fails otherwise (403, timeout) proves
// nothing: the item is kept and counted.
//
// The count comes from the byRoom index, which is eventually consistent,
// so handshakes at the very same moment can pass the cap by a few; the
// relay never posts an answer to more than Max sockets whatever the table
// holds.
func (c Cap) admit(ctx context.Context, log *slog.Logger, endpoint, roomID string, now time.Time) error {
	if c.Max <= 0 {
		return nil
	}
	conns, err := c.Store.RoomConnections(ctx, roomID, now)
	if err != nil {
		log.Error("count the room's connections", "err", err)
		return err
	}
	excess := len(conns) - c.Max + 1 // items to prove gone before one more fits
	if excess <= 0 {
		return nil
	}
	slices.SortFunc(conns, func(a, b store.Connection) int { return int(a.ConnectedAt - b.ConnectedAt) })
	probe := c.Probe(endpoint)
	for _, old := range conns {
		if excess == 0 {
			break
		}
		if !gone(ctx, probe, old.ConnectionID) {
			continue
		}
		if err := c.Store.DeleteConnection(ctx, old.ConnectionID); err != nil {
			log.Error("delete a gone connection", "gone", old.ConnectionID, "err", err)
			continue
		}
		log.Info("deleted a connection whose socket is gone", "gone", old.ConnectionID)
		excess--
	}
	if excess > 0 {
		log.Warn("connect refused: the room is full", "live", len(conns), "max", c.Max)
		return errRoomFull
	}
	return nil
}

// gone reports whether @connections answers 410 Gone for id.
func gone(ctx context.Context, p Prober, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := p.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	var g *types.GoneException
	return errors.As(err, &g)
}
