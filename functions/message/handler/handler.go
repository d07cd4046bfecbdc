// Package handler serves the websocket routes sendMessage, handoff and
// $default for the MessageFunction Lambda: it streams RAG answers to the
// room, and routes messages by the room's handoff status (handoff.go).
package handler

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// Websocket error codes of the error frame (DESIGN.md), besides the rag.Code* ones.
const (
	CodeInvalidMessage = "INVALID_MESSAGE"
	CodeUnknownAction  = "UNKNOWN_ACTION"
	CodeInternal       = relay.CodeInternal
)

// OutcomeComplete is the outcome stored with an answer that ended well;
// otherwise the outcome is the error code the question ended with (or
// store.OutcomeStreaming while it streams).
const OutcomeComplete = store.OutcomeComplete

// Route keys the handler serves.
const (
	RouteSendMessage = "sendMessage"
	RouteDefault     = "$default"
)

// Connections is what the handler needs of the connections table.
// *store.Store implements it.
type Connections interface {
	GetConnection(ctx context.Context, connectionID string) (store.Connection, error)
	RoomConnections(ctx context.Context, roomID string, now time.Time) ([]store.Connection, error)
	DeleteConnection(ctx context.Context, connectionID string) error
	ExpireConnection(ctx context.Context, connectionID string, now time.Time) error // a revoked socket's (revoke.go)
}

// History is what the handler needs of the messages and rooms tables:
// messages, the repeat records of clientMessageIds (store/repeats.go) and
// the room's lastActivityAt. *store.Store implements it.
type History interface {
	PutMessage(ctx context.Context, m store.Message) error
	GetMessage(ctx context.Context, roomID string, atMs int64, messageID string) (store.Message, error)
	TouchRoom(ctx context.Context, roomID string, atMs int64) error
	ClaimRepeat(ctx context.Context, r store.Repeat) (store.Repeat, bool, error)
	TakeOverRepeat(ctx context.Context, r, old store.Repeat) (bool, error)
	ReleaseRepeat(ctx context.Context, r store.Repeat) error
}

// Asker asks the RAG service. *rag.Client implements it.
type Asker interface {
	Ask(ctx context.Context, r rag.Request) (*rag.Stream, error)
}

// Handler serves the websocket routes sendMessage, handoff and $default.
// Conns, History, Rooms, Limits, Users, RAG and Poster are required; the other
// fields have usable zero values.
//
// A question costs these DynamoDB requests: the caller's connection
// (GetItem), its clientMessageId's repeat record when it has one (a
// conditional PutItem), the room's status read and its lastActivityAt
// written (one UpdateItem), the room's connections (Query on byRoom) at
// the start and again every JoinInterval while the answer streams, the
// question (PutItem), and the answer item at its first frame, every
// CheckpointInterval and at its end (PutItem each); plus a DeleteItem per
// connection found gone, a GetItem on Users per other user with sockets in
// the room (once per question: an agent's, the customer's for an agent)
// and an UpdateItem per socket found revoked (recipients.go); and the
// limits' (limits.go): a token of the
// user's question bucket (UpdateItem; two during a burst) and the room's
// answer slot taken and given back (UpdateItem each), and the token
// version of the user (GetItem on Users, run with the bucket's write;
// none for a connection stored without a version). A 4-second answer
// costs at most 14. A malformed message costs none; a repeat costs the
// GetItem, the token and the version, the PutItem and a GetItem of the
// answer; a question on a revoked socket the GetItem, the token, the
// version and the connection's expiry (UpdateItem), the next ones the
// GetItem alone.
type Handler struct {
	Conns   Connections
	History History
	Rooms   Rooms  // the room's status: handoff and routing by status (handoff.go)
	Limits  Limits // question limits (limits.go)
	// Users is the users table: the token version a question's socket is
	// checked against (revoke.go).
	Users apigw.UserReader
	RAG   Asker
	// Poster returns the @connections client for an endpoint
	// (relay.Endpoint of CALLBACK_URL or the event's domain and stage).
	Poster         func(endpoint string) relay.Poster
	CallbackURL    string        // CALLBACK_URL; "" means the event's https://{domainName}/{stage}
	Relay          relay.Options // MinFrameInterval and the rest
	DeadlineMargin time.Duration // the RAG answer ends this long before the Lambda deadline, leaving the rest to the ending (deadline.go); 0 means DefaultDeadlineMargin
	// Feed, when set, is where an answer's RAG deltas go instead of its
	// relay stream: a wrapping of the stream, which must pass every delta
	// on to it. nil (production) feeds the stream itself, the coalescing
	// relay; the benchmarks' one-post-per-delta competitor (bench/baseline)
	// waits there for each delta's posts. Nothing else of the answer (its
	// recipients, store writes, limits, ending) goes through Feed.
	Feed func(*relay.Stream) Deltas
	// JoinInterval is how often the room's connections are looked up
	// while an answer streams (0 means DefaultJoinInterval).
	JoinInterval time.Duration
	// CheckpointInterval is how often a streaming answer's text is
	// written (0 means DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// StaleAfter is how long after its question a repeat record whose
	// answer has not ended is taken for an answer that died with its
	// function (0 means DefaultStaleAfter).
	StaleAfter time.Duration
	Log        *slog.Logger     // nil means slog.Default()
	Now        func() time.Time // nil means time.Now
	// Metrics receives each answer's metrics (metrics.go); nil means
	// standard output in the default namespace.
	Metrics *metrics.Emitter
}

// Handle answers one websocket message. It always returns 200: the
// outcome reaches the client as frames through @connections (API Gateway
// does not forward route responses without a route response configured).
// sendMessage streams the answer to every live connection of the caller's
// room; $default, and any message sendMessage rejects, get one error frame
// posted back to the caller only (see parseSendMessage and parseDefault
// for the rules). Frames answering a rejected message have sessionId ""
// because the message is rejected before any table is read.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	ctx, cancel := h.bounded(ctx)
	defer cancel()
	rc := ev.RequestContext
	endpoint := relay.Endpoint(h.CallbackURL, rc.DomainName, rc.Stage)
	posts := &observedPoster{Poster: h.Poster(endpoint), now: h.now}
	r := relay.New(posts, h.Conns, h.relayOptions(endpoint))
	if rc.RouteKey == RouteHandoff {
		h.requestHandoff(ctx, r, rc.ConnectionID, ev.Body, ev.IsBase64Encoded)
		return apigw.WSOK(), nil
	}
	var q question
	var rej *rejection
	if rc.RouteKey == RouteSendMessage {
		q, rej = parseSendMessage(ev.Body, ev.IsBase64Encoded)
	} else {
		rej = parseDefault(ev.Body, ev.IsBase64Encoded)
	}
	if rej != nil {
		h.reject(ctx, r, rc.ConnectionID, "", rej)
	} else {
		h.ask(ctx, r, posts, rc.ConnectionID, q)
	}
	return apigw.WSOK(), nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) relayOptions(endpoint string) relay.Options {
	o := h.Relay
	o.Endpoint = endpoint
	if o.Logger == nil {
		o.Logger = h.log()
	}
	return o
}

// rejection is why a message gets an error frame instead of an answer;
// Message is client-facing.
type rejection struct {
	Code    string
	Message string
}

// reject posts one error frame to the caller.
func (h *Handler) reject(ctx context.Context, r *relay.Relay, caller, sessionID string, rej *rejection) {
	h.rejectQuestion(ctx, r, caller, sessionID, question{}, rej)
}

// rejectQuestion posts one error frame to the caller, refusing q: the
// frame carries q's clientMessageId, so that the client knows which
// question it refuses.
func (h *Handler) rejectQuestion(ctx context.Context, r *relay.Relay, caller, sessionID string, q question, rej *rejection) {
	a := relay.Answer{SessionID: sessionID, MessageID: store.NewMessageID(), ClientMessageID: q.ClientMessageID}
	s := r.Start(ctx, a, []string{caller})
	s.Fail(rej.Code, rej.Message)
	s.Wait()
	h.log().Info("message rejected", "connectionId", caller, "code", rej.Code, "reason", rej.Message)
}

// MaxMessageRunes is the longest question accepted, in characters (runes).
const MaxMessageRunes = 2000

// maxCategoryRunes is the longest category1 / category2 accepted.
const maxCategoryRunes = 100

// maxBodyBytes bounds the raw body read: room for MaxMessageRunes runes
// even if every one is written as a \uXXXX escape, plus the other fields.
const maxBodyBytes = 16 << 10

// question is a validated sendMessage body.
type question struct {
	Message         string // trimmed of surrounding white space
	Category1       string
	Category2       string
	ClientMessageID string // "" when the client sent none
}

// sendMessageBody is the client's sendMessage frame.
type sendMessageBody struct {
	Action          string  `json:"action"`
	Message         string  `json:"message"`
	Category1       string  `json:"category1"`
	Category2       string  `json:"category2"`
	ClientMessageID *string `json:"clientMessageId"`
}

// clientMessageIDPattern is the form of a clientMessageId.
var clientMessageIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// parseSendMessage validates a sendMessage body. It is rejected with
// INVALID_MESSAGE when it is over 16 KiB, not valid UTF-8 (or bad base64),
// not a JSON object, has a field of the wrong type, or when message is
// missing, empty or white space only after trimming, longer than
// MaxMessageRunes, or holds control characters other than tab, line feed
// and carriage return; and when a category is longer than 100 characters
// or holds any control character; and when clientMessageId is present
// (not null) but not 1 to 64 of [A-Za-z0-9._:-]. Unknown fields are
// ignored. An action
// other than "sendMessage" cannot reach this route on API Gateway and is
// ignored too.
func parseSendMessage(body string, isBase64 bool) (question, *rejection) {
	data, err := apigw.Body(body, isBase64, maxBodyBytes)
	if err != nil {
		return question{}, invalid(err)
	}
	var b sendMessageBody
	if err := apigw.DecodeJSON(data, &b); err != nil {
		return question{}, invalid(err)
	}
	q := question{Message: strings.TrimSpace(b.Message), Category1: b.Category1, Category2: b.Category2}
	if b.ClientMessageID != nil {
		if !clientMessageIDPattern.MatchString(*b.ClientMessageID) {
			return question{}, &rejection{CodeInvalidMessage, "clientMessageId must be 1 to 64 of A-Z a-z 0-9 . _ : -"}
		}
		q.ClientMessageID = *b.ClientMessageID
	}
	switch {
	case q.Message == "":
		return question{}, &rejection{CodeInvalidMessage, "message is required and must not be blank"}
	case utf8.RuneCountInString(q.Message) > MaxMessageRunes:
		return question{}, &rejection{CodeInvalidMessage, "message is longer than 2000 characters"}
	case hasControl(q.Message, "\t\n\r"):
		return question{}, &rejection{CodeInvalidMessage, "message contains control characters"}
	case hasBidiControl(q.Message):
		return question{}, &rejection{CodeInvalidMessage, "message contains bidirectional control characters (U+202A-U+202E, U+2066-U+2069)"}
	}
	for _, c := range []string{q.Category1, q.Category2} {
		if utf8.RuneCountInString(c) > maxCategoryRunes || hasControl(c, "") || hasFormat(c) {
			return question{}, &rejection{CodeInvalidMessage, "categories must be at most 100 characters, without control or format characters"}
		}
	}
	return q, nil
}

// parseDefault is the rejection of a $default message: INVALID_MESSAGE when
// the body is not a JSON object in valid UTF-8 (or over 16 KiB), so that
// the client learns its frame is malformed, and UNKNOWN_ACTION for any
// JSON object (no action, or an action that is not "sendMessage").
func parseDefault(body string, isBase64 bool) *rejection {
	data, err := apigw.Body(body, isBase64, maxBodyBytes)
	if err != nil {
		return invalid(err)
	}
	var b struct {
		Action any `json:"action"`
	}
	if err := apigw.DecodeJSON(data, &b); err != nil {
		return invalid(err)
	}
	return &rejection{CodeUnknownAction, `unknown action; send {"action":"sendMessage","message":"..."}`}
}

// invalid turns a decoding error into an INVALID_MESSAGE rejection, with
// the *apigw.Error's client-safe message.
func invalid(err error) *rejection {
	msg := "message is malformed"
	var e *apigw.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	return &rejection{CodeInvalidMessage, msg}
}

// hasControl reports whether s holds a control character (C0, DEL, C1)
// not listed in allowed.
func hasControl(s, allowed string) bool {
	for _, r := range s {
		if (r < 0x20 || (r >= 0x7f && r <= 0x9f)) && !strings.ContainsRune(allowed, r) {
			return true
		}
	}
	return false
}
