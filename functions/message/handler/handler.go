// Package handler serves the websocket routes sendMessage, handoff and
// $default for the MessageFunction Lambda: it streams RAG answers to the
// room, and routes messages by the room's handoff status (handoff.go).
package handler

import (
	"context"
	"errors"
	"io"
	"log/slog"
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
// otherwise the outcome is the error code the question ended with.
const OutcomeComplete = "complete"

// Route keys the handler serves.
const (
	RouteSendMessage = "sendMessage"
	RouteDefault     = "$default"
)

// maxStoredAnswerBytes caps the answer text written to the messages table,
// well under DynamoDB's 400 KB item limit; clients still receive the whole
// answer. The cut falls on a rune boundary.
const maxStoredAnswerBytes = 300_000

// Connections is what the handler needs of the connections table.
// *store.Store implements it.
type Connections interface {
	GetConnection(ctx context.Context, connectionID string) (store.Connection, error)
	RoomConnections(ctx context.Context, roomID string, now time.Time) ([]store.Connection, error)
	DeleteConnection(ctx context.Context, connectionID string) error
}

// History is what the handler needs of the messages and rooms tables.
// *store.Store implements it.
type History interface {
	PutMessage(ctx context.Context, m store.Message) error
	TouchRoom(ctx context.Context, roomID string, atMs int64) error
}

// Asker asks the RAG service. *rag.Client implements it.
type Asker interface {
	Ask(ctx context.Context, r rag.Request) (*rag.Stream, error)
}

// Handler serves the websocket routes sendMessage, handoff and $default.
// Conns, History, Rooms, RAG and Poster are required; the other fields
// have usable zero values.
//
// A question costs at most six DynamoDB requests: the caller's connection
// and the room's status (GetItem each), the room's connections (Query on byRoom), the question and the
// answer (PutItem each) and the room's lastActivityAt (UpdateItem); plus a
// DeleteItem per connection found gone. A rejected message costs none.
type Handler struct {
	Conns   Connections
	History History
	Rooms   Rooms // the room's status: handoff and routing by status (handoff.go)
	RAG     Asker
	// Poster returns the @connections client for an endpoint
	// (relay.Endpoint of CALLBACK_URL or the event's domain and stage).
	Poster         func(endpoint string) relay.Poster
	CallbackURL    string           // CALLBACK_URL; "" means the event's https://{domainName}/{stage}
	Relay          relay.Options    // MinFrameInterval and the rest
	DeadlineMargin time.Duration    // the question ends with RAG_TIMEOUT this long before the Lambda deadline
	Log            *slog.Logger     // nil means slog.Default()
	Now            func() time.Time // nil means time.Now
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
	s := r.Start(ctx, relay.Answer{SessionID: sessionID, MessageID: store.NewMessageID()}, []string{caller})
	s.Fail(rej.Code, rej.Message)
	s.Wait()
	h.log().Info("message rejected", "connectionId", caller, "code", rej.Code, "reason", rej.Message)
}

// clientMessages are the client-facing messages of the errors an answer can
// end with; causes go to the log only.
var clientMessages = map[string]string{
	rag.CodeUnavailable: "The answer service is unavailable. Please try again later.",
	rag.CodeTimeout:     "The answer service took too long to answer. Please try again.",
	rag.CodeInterrupted: "The answer was interrupted. Please try again.",
	CodeInternal:        relay.MessageInternal,
}

// ask answers a valid question: look up the caller, store the question,
// stream the RAG answer to the room, store the answer and touch the room.
func (h *Handler) ask(ctx context.Context, r *relay.Relay, posts *observedPoster, caller string, q question) {
	log := h.log().With("connectionId", caller)
	conn, ok := h.caller(ctx, r, log, caller)
	if !ok {
		return
	}
	log = log.With("roomId", conn.RoomID)
	if h.routeByStatus(ctx, r, log, conn, q) {
		return
	}
	started := h.now()
	asked := store.Message{
		RoomID: conn.RoomID, At: started.UnixMilli(), MessageID: store.NewMessageID(), Role: store.RoleUser,
		Text: q.Message, Category1: q.Category1, Category2: q.Category2,
	}

	// The room's connections and the question's write are independent.
	peers := make(chan []store.Connection, 1)
	go func() {
		cs, err := h.Conns.RoomConnections(ctx, conn.RoomID, started)
		if err != nil {
			log.Error("list the room's connections; answering the caller only", "err", err)
		}
		peers <- cs
	}()
	putErr := h.History.PutMessage(ctx, asked)
	recipients := []string{caller}
	for _, c := range <-peers {
		if c.ConnectionID != caller {
			recipients = append(recipients, c.ConnectionID)
		}
	}
	if putErr != nil {
		log.Error("store the question", "err", putErr)
		h.reject(ctx, r, caller, conn.RoomID, &rejection{CodeInternal, clientMessages[CodeInternal]})
		return
	}

	answerID := store.NewMessageID()
	s := r.Start(ctx, relay.Answer{SessionID: conn.RoomID, MessageID: answerID}, recipients)
	outcome, skipped := h.stream(ctx, log, s, rag.Request{
		Message: q.Message, Category1: q.Category1, Category2: q.Category2,
		CompanyID: conn.CompanyID, SessionID: conn.RoomID, UserName: conn.UserName, UseHistory: true,
	})
	if outcome == OutcomeComplete {
		s.Complete()
	} else {
		s.Fail(outcome, clientMessages[outcome])
	}
	if code, _ := s.Outcome(); code != "" {
		outcome = code // the relay may have ended the answer first (CodeInternal)
	}

	// Store while the last frames go out.
	answeredAt := max(h.now().UnixMilli(), asked.At+1) // the answer sorts after its question
	answer := store.Message{
		RoomID: conn.RoomID, At: answeredAt, MessageID: answerID, Role: store.RoleBot,
		Text: truncate(s.Text(), maxStoredAnswerBytes), Outcome: outcome, Category1: q.Category1, Category2: q.Category2,
	}
	if err := h.History.PutMessage(ctx, answer); err != nil {
		log.Error("store the answer", "messageId", answerID, "outcome", outcome, "err", err)
	}
	if err := h.History.TouchRoom(ctx, conn.RoomID, answeredAt); err != nil {
		log.Warn("touch the room", "err", err)
	}
	res := s.Wait()
	log.Info("answered", "messageId", answerID, "outcome", outcome, "answerBytes", len(answer.Text),
		"recipients", len(recipients), "posts", res.Posts, "frames", res.Frames, "frameBytes", res.Bytes,
		"gone", len(res.Gone), "forbidden", len(res.Forbidden), "failed", len(res.Failed), "throttled", res.Throttled, "skippedLines", skipped,
		"ms", h.now().Sub(started).Milliseconds())
	h.answerMetrics(posts, started, outcome, res, len(recipients), s.Recipients())
}

// stream asks the RAG service and feeds its answer to s until the answer
// ends, fails, or the Lambda deadline comes within DeadlineMargin. It
// returns the outcome (OutcomeComplete or an error code) and the number of
// malformed lines skipped.
func (h *Handler) stream(ctx context.Context, log *slog.Logger, s *relay.Stream, req rag.Request) (string, int) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-h.DeadlineMargin))
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { // an answer the relay ended (a sender's panic) is not read further
		select {
		case <-s.Ended():
			stop()
		case <-ctx.Done():
		}
	}()
	rs, err := h.RAG.Ask(ctx, req)
	if err != nil {
		return failure(ctx, log, err), 0
	}
	defer rs.Close()
	for {
		ev, err := rs.Next()
		if err == io.EOF {
			return OutcomeComplete, rs.Skipped()
		}
		if err != nil {
			return failure(ctx, log, err), rs.Skipped()
		}
		s.Delta(ev.Delta)
	}
}

// failure maps an error of the RAG client to the error code the question
// ends with, and logs its cause.
func failure(ctx context.Context, log *slog.Logger, err error) string {
	code := CodeInternal
	var re *rag.Error
	switch {
	case errors.As(err, &re) && clientMessages[re.Code] != "":
		code = re.Code
	case ctx.Err() != nil:
		code = rag.CodeTimeout
	}
	log.Warn("RAG answer failed", "code", code, "err", err)
	return code
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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
	Message   string // trimmed of surrounding white space
	Category1 string
	Category2 string
}

// sendMessageBody is the client's sendMessage frame.
type sendMessageBody struct {
	Action    string `json:"action"`
	Message   string `json:"message"`
	Category1 string `json:"category1"`
	Category2 string `json:"category2"`
}

// parseSendMessage validates a sendMessage body. It is rejected with
// INVALID_MESSAGE when it is over 16 KiB, not valid UTF-8 (or bad base64),
// not a JSON object, has a field of the wrong type, or when message is
// missing, empty or white space only after trimming, longer than
// MaxMessageRunes, or holds control characters other than tab, line feed
// and carriage return; and when a category is longer than 100 characters
// or holds any control character. Unknown fields are ignored. An action
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
	switch {
	case q.Message == "":
		return question{}, &rejection{CodeInvalidMessage, "message is required and must not be blank"}
	case utf8.RuneCountInString(q.Message) > MaxMessageRunes:
		return question{}, &rejection{CodeInvalidMessage, "message is longer than 2000 characters"}
	case hasControl(q.Message, "\t\n\r"):
		return question{}, &rejection{CodeInvalidMessage, "message contains control characters"}
	}
	for _, c := range []string{q.Category1, q.Category2} {
		if utf8.RuneCountInString(c) > maxCategoryRunes || hasControl(c, "") {
			return question{}, &rejection{CodeInvalidMessage, "categories must be at most 100 characters, without control characters"}
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
