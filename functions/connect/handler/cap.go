package handler

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
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

// Cap is the room's socket cap (MAX_ROOM_CONNECTIONS): Max places per
// room, each a socket slot of the handler's store (shared/store/slots.go)
// that one conditional write takes, so that parallel handshakes never
// pass it.
type Cap struct {
	Max   int                          // live connections per room; 0 means no cap
	Probe func(endpoint string) Prober // the @connections client of an endpoint
	// CallbackURL is CALLBACK_URL; "" means the event's https://{domainName}/{stage}.
	CallbackURL string
	// probeBudget bounds a handshake's @connections GETs together; 0
	// means defaultProbeBudget (only tests shorten it).
	probeBudget time.Duration
}

// capStore is what the cap needs from the store.
type capStore interface {
	TakeSocketSlot(ctx context.Context, sl store.SocketSlot, now time.Time) (bool, error)
	TakeOverSocketSlot(ctx context.Context, sl store.SocketSlot, old string) (bool, error)
	SocketSlots(ctx context.Context, roomID string, max int) ([]store.SocketSlot, error)
	FreeSocketSlot(ctx context.Context, key, holder string) error
	DeleteTakenOverConnection(ctx context.Context, connectionID string) error
}

// probeTimeout bounds each @connections GET, and defaultProbeBudget all
// of one handshake's together: well inside the connect function's 10 s
// timeout even when @connections hangs for every holder (the holders not
// asked count as open).
const (
	probeTimeout       = time.Second
	defaultProbeBudget = 4 * time.Second
)

// handshakeGrace is how long a slot is its holder's whatever @connections
// says: API Gateway answers GET with 410 until the holder's $connect has
// returned, so a younger slot may belong to a handshake still running.
// It is above API Gateway's 29 s integration limit, which bounds every
// $connect.
const handshakeGrace = 30 * time.Second

var errRoomFull = apigw.NewError(http.StatusTooManyRequests, apigw.CodeTooManySockets,
	"this room has the most connections it may have; close another tab or device and try again")

// admit takes a place of room roomID in st for connection connID, whose
// connection expires at expiresAt (epoch s), and returns the slot's key
// ("" when there is no cap). In order, stopping at the first that works:
//
//  1. a random place, with one conditional write (in a room with few
//     sockets the place is nearly always free: one request);
//  2. the places one read of all slots shows free (no item, or a holder
//     whose expiresAt has passed), each with a conditional write;
//  3. the places whose holders are gone: @connections GET of the holders,
//     oldest first (slots younger than handshakeGrace are not asked
//     about), and for a 410 a take-over conditional on that holder, whose
//     connection item is then deleted (its $disconnect was lost).
//
// It refuses with 429 only when every place is held by a socket still
// open, a handshake in progress, or one whose GET failed otherwise (403,
// timeout proves nothing) or was not asked within probeBudget.
func (c Cap) admit(ctx context.Context, st capStore, log *slog.Logger, endpoint, roomID, connID string, expiresAt int64, now time.Time) (string, error) {
	if c.Max <= 0 {
		return "", nil
	}
	mine := func(n int) store.SocketSlot {
		return store.SocketSlot{Key: store.SocketSlotKey(roomID, n), Holder: connID, TakenAt: now.UnixMilli(), ExpiresAt: expiresAt}
	}
	take := func(n int) (string, bool, error) {
		sl := mine(n)
		ok, err := st.TakeSocketSlot(ctx, sl, now)
		if err != nil {
			log.Error("take a socket slot", "slot", sl.Key, "err", err)
		}
		return sl.Key, ok, err
	}
	first := rand.IntN(c.Max)
	if key, ok, err := take(first); ok || err != nil {
		return key, err
	}
	slots, err := st.SocketSlots(ctx, roomID, c.Max)
	if err != nil {
		log.Error("read the room's socket slots", "err", err)
		return "", err
	}
	for i := 1; i <= c.Max; i++ { // the first place last: it was just taken
		n := (first + i) % c.Max
		if !slots[n].Free(now) {
			continue
		}
		if key, ok, err := take(n); ok || err != nil {
			return key, err
		}
	}
	held := make([]int, 0, c.Max)
	for n, sl := range slots {
		if !sl.Free(now) && now.Sub(time.UnixMilli(sl.TakenAt)) >= handshakeGrace {
			held = append(held, n)
		}
	}
	slices.SortFunc(held, func(a, b int) int { return cmp.Compare(slots[a].TakenAt, slots[b].TakenAt) })
	budget := c.probeBudget
	if budget <= 0 {
		budget = defaultProbeBudget
	}
	pctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var probe Prober
	for _, n := range held {
		if pctx.Err() != nil {
			log.Warn("stopped asking @connections: the probe budget is spent", "budget", budget)
			break
		}
		old := slots[n].Holder
		if probe == nil {
			probe = c.Probe(endpoint)
		}
		if !gone(pctx, probe, old) {
			continue
		}
		sl := mine(n)
		ok, err := st.TakeOverSocketSlot(ctx, sl, old)
		if err != nil {
			log.Error("take over a socket slot", "slot", sl.Key, "gone", old, "err", err)
			return "", err
		}
		if !ok {
			continue // another handshake took it over, or its holder gave it back
		}
		if err := st.DeleteTakenOverConnection(ctx, old); err != nil {
			log.Error("delete a gone connection", "gone", old, "err", err) // expiresAt and the relay's 410 remove it later
		}
		log.Info("took over the socket slot of a connection whose socket is gone", "slot", sl.Key, "gone", old)
		return sl.Key, nil
	}
	log.Warn("connect refused: the room is full", "max", c.Max, "checked", len(held))
	return "", errRoomFull
}

// gone reports whether @connections answers 410 Gone for id.
func gone(ctx context.Context, p Prober, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := p.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	var g *types.GoneException
	return errors.As(err, &g)
}
