package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

// Error codes of the question limits (DESIGN.md, "Abuse limits").
const (
	CodeAnswerInProgress = "ANSWER_IN_PROGRESS"
	CodeRateLimited      = "RATE_LIMITED"
	CodeTokenExpired     = "TOKEN_EXPIRED"
)

// messageTokenExpired is the client-facing message of TOKEN_EXPIRED: the
// socket's token has expired or was revoked (revoke.go).
const messageTokenExpired = "Your session has expired. Please log in again and reconnect."

// Limiter is what the handler needs of the store to enforce the question
// limits. *store.Store implements it.
type Limiter interface {
	TakeQuestionToken(ctx context.Context, companyID, userID string, b store.Bucket, now time.Time) (bool, time.Time, error)
	BeginAnswer(ctx context.Context, roomID, answerID string, until, now time.Time) (store.Room, bool, error)
	EndAnswer(ctx context.Context, roomID, answerID string) error
}

// Limits are the question limits: a token bucket per user over every
// sendMessage (all their sockets), and one answer in flight per room.
type Limits struct {
	Store     Limiter
	Questions store.Bucket
}

// LimitsFrom is the question policy the function's environment configures.
func LimitsFrom(l config.Limits, s Limiter) Limits {
	return Limits{Store: s, Questions: store.Bucket{Burst: l.QuestionBurst, Refill: time.Minute / time.Duration(l.QuestionsPerMinute)}}
}

// maxAnswerTime bounds an answer's hold on its room when the context has
// no deadline (tests, local tools); on Lambda the hold ends at the deadline.
const maxAnswerTime = 2 * time.Minute

// endAnswerTimeout bounds the write that frees the room.
const endAnswerTimeout = 2 * time.Second

// callerRejection is the answer to a question whose caller's connection
// cannot be had: TOKEN_EXPIRED when it outlived its token, INTERNAL
// otherwise.
func callerRejection(log *slog.Logger, err error) *rejection {
	switch {
	case errors.Is(err, store.ErrExpired):
		log.Info("question on an expired connection", "err", err)
		return &rejection{CodeTokenExpired, messageTokenExpired}
	case errors.Is(err, store.ErrNotFound):
		log.Error("look up the caller's connection", "err", err)
		return &rejection{CodeInternal, "This connection is not registered. Please reconnect."}
	default:
		log.Error("look up the caller's connection", "err", err)
		return &rejection{CodeInternal, clientMessages[CodeInternal]}
	}
}

// takeQuestionToken takes a token of conn's user's question bucket: every
// sendMessage does, whatever becomes of it, before anything is stored or
// asked. It returns the rejection when the bucket is empty (or cannot be
// read: the limit fails closed).
func (h *Handler) takeQuestionToken(ctx context.Context, log *slog.Logger, conn store.Connection) *rejection {
	now := h.now()
	ok, next, err := h.Limits.Store.TakeQuestionToken(ctx, conn.CompanyID, conn.UserID, h.Limits.Questions, now)
	switch {
	case err != nil:
		log.Error("take a question token", "err", err)
		return &rejection{CodeInternal, clientMessages[CodeInternal]}
	case !ok:
		wait := max(1, int(math.Ceil(next.Sub(now).Seconds())))
		log.Warn("question rate limited", "userId", conn.UserID, "retryInSeconds", wait)
		return &rejection{CodeRateLimited, fmt.Sprintf("Too many questions. Please wait %d seconds before asking again.", wait)}
	}
	return nil
}

// rejectAnswerInProgress refuses a question while the room's answer streams.
var rejectAnswerInProgress = &rejection{CodeAnswerInProgress, "An answer is still being written in this room. Please wait for it to finish."}

// enterRoom reads the room for routing by status and records its
// activity; for a customer the same write takes the room's one answer
// slot for answerID (store.BeginAnswer), before the question is stored or
// asked, so that a question costs one request on the Rooms table before
// its answer and one after. A repeat of a question already asked must be
// recognised before: it is no new question. free is nil when the slot was
// not taken (an agent, a room that is not BOT, or another answer holding
// it: the room's status tells which). Otherwise the caller must call free
// once the answer has ended and before its ending is posted, so that a
// question sent after the ending arrived is never refused as in progress;
// calls after the first do nothing. The slot is held until the function's
// deadline at most, so a crashed answer frees the room itself.
func (h *Handler) enterRoom(ctx context.Context, log *slog.Logger, conn store.Connection, answerID string) (room store.Room, free func(), err error) {
	now := h.now()
	if isAgent(conn) {
		room, err := h.Rooms.TouchOpenRoom(ctx, conn.RoomID, now.UnixMilli())
		return room, nil, err
	}
	until := now.Add(maxAnswerTime)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	room, begun, err := h.Limits.Store.BeginAnswer(ctx, conn.RoomID, answerID, until, now)
	if err != nil || !begun {
		return room, nil, err
	}
	return room, sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endAnswerTimeout)
		defer cancel()
		if err := h.Limits.Store.EndAnswer(ctx, conn.RoomID, answerID); err != nil {
			log.Error("free the room for the next question; it frees itself at the deadline", "until", until, "err", err)
		}
	}), nil
}

// hasBidiControl reports whether s holds a bidirectional embedding,
// override or isolate control (U+202A-U+202E, U+2066-U+2069), which can
// make a message display as something else in the agent console.
func hasBidiControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
	}) >= 0
}

// hasFormat reports whether s holds a Unicode format character (category
// Cf: zero-width joiners and spaces, bidi controls, soft hyphens...):
// invisible in a category, where nothing legitimate needs one.
// clientMessageId needs no such check: its pattern is ASCII.
func hasFormat(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0
}
