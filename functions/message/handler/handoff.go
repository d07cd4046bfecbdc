package handler

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/handoff"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// Handoff (DESIGN.md, "Handoff"): the customer's handoff action, and the
// routing of sendMessage by the room's status.

// RouteHandoff is the route key of the customer's request for a person.
const RouteHandoff = "handoff"

// Error codes of handoff and of routing by status.
const (
	CodeRoomClosed  = "ROOM_CLOSED"
	CodeNotAssigned = "NOT_ASSIGNED"
)

// Rooms is what the handler needs of the rooms table for handoff.
// *store.Store implements it.
type Rooms interface {
	GetRoom(ctx context.Context, roomID string) (store.Room, error)
	TouchOpenRoom(ctx context.Context, roomID string, atMs int64) (store.Room, error)
	RequestHandoff(ctx context.Context, companyID, roomID string, atMs int64) (store.Room, bool, error)
}

// maxReasonRunes is the longest handoff reason accepted.
const maxReasonRunes = 500

var (
	rejectRoomClosed = &rejection{CodeRoomClosed, "This conversation is closed. Please open a new room."}
	rejectNotAgent   = &rejection{CodeNotAssigned, "You do not hold this room: claim it first."}
)

// parseHandoff validates a handoff body: {"action":"handoff","reason":"…"},
// reason optional (at most 500 characters, no control characters but tab
// and line ends; trimmed). It is rejected with INVALID_MESSAGE as
// parseSendMessage rejects a malformed body.
func parseHandoff(body string, isBase64 bool) (string, *rejection) {
	data, err := apigw.Body(body, isBase64, maxBodyBytes)
	if err != nil {
		return "", invalid(err)
	}
	var b struct {
		Reason string `json:"reason"`
	}
	if err := apigw.DecodeJSON(data, &b); err != nil {
		return "", invalid(err)
	}
	reason := strings.TrimSpace(b.Reason)
	if utf8.RuneCountInString(reason) > maxReasonRunes || hasControl(reason, "\t\n\r") {
		return "", &rejection{CodeInvalidMessage, "reason must be at most 500 characters, without control characters"}
	}
	return reason, nil
}

// requestHandoff serves the handoff action of the customer on connection
// caller: a BOT room becomes WAITING, with a system message and a status
// frame to every socket of the room; a WAITING or AGENT room is left as it
// is and the caller alone gets its current status frame; a CLOSED room
// gets ROOM_CLOSED. An agent's socket gets INVALID_MESSAGE: handoff is the
// customer's; a socket whose token was revoked gets TOKEN_EXPIRED
// (revoke.go), the room unchanged.
func (h *Handler) requestHandoff(ctx context.Context, r *relay.Relay, caller, body string, isBase64 bool) {
	reason, rej := parseHandoff(body, isBase64)
	if rej != nil {
		h.reject(ctx, r, caller, "", rej)
		return
	}
	log := h.log().With("connectionId", caller)
	conn, ok := h.caller(ctx, r, log, caller)
	if !ok {
		return
	}
	log = log.With("roomId", conn.RoomID)
	if isAgent(conn) {
		h.reject(ctx, r, caller, conn.RoomID, &rejection{CodeInvalidMessage, "handoff is the customer's action; agents claim rooms"})
		return
	}
	if rej := h.checkToken(ctx, log, conn)(); rej != nil { // a rare action: the read waits alone
		h.reject(ctx, r, caller, conn.RoomID, rej)
		return
	}
	now := h.now()
	room, changed, err := h.Rooms.RequestHandoff(ctx, conn.CompanyID, conn.RoomID, now.UnixMilli())
	switch {
	case errors.Is(err, store.ErrRoomClosed):
		h.reject(ctx, r, caller, conn.RoomID, rejectRoomClosed)
		return
	case err != nil:
		log.Error("request handoff", "err", err)
		h.reject(ctx, r, caller, conn.RoomID, &rejection{CodeInternal, clientMessages[CodeInternal]})
		return
	case !changed:
		if _, err := handoff.Tell(ctx, r, handoff.StatusOf(room), []string{caller}); err != nil {
			log.Error("tell the current status", "err", err)
		}
		log.Info("handoff already requested", "status", room.Status)
		return
	}
	change := handoff.Change{Room: room, Event: store.EventHandoffRequested, Reason: reason}
	res, err := handoff.Announce(ctx, announcer{h.History, h.Conns}, r, change, now, h.versions(conn))
	if err != nil {
		log.Error("announce the handoff", "err", err) // the room waits all the same
	}
	log.Info("handoff requested", "sockets", res.Frames, "gone", len(res.Gone), "failed", len(res.Failed))
	handoff.CountTransition(h.Metrics, metricFunction, change)
}

// announcer is what handoff.Announce needs, from the handler's parts.
type announcer struct {
	History
	Connections
}

// caller looks up the caller's connection, rejecting the message when it
// cannot be found.
func (h *Handler) caller(ctx context.Context, r *relay.Relay, log *slog.Logger, caller string) (store.Connection, bool) {
	conn, err := h.Conns.GetConnection(ctx, caller)
	if err != nil {
		h.reject(ctx, r, caller, conn.RoomID, callerRejection(log, err))
		return store.Connection{}, false
	}
	return conn, true
}

// isAgent reports whether conn is an agent's socket. Connections stored
// before roles were (all customers') have no role.
func isAgent(conn store.Connection) bool { return conn.Role == store.UserRoleAgent }

// routeByStatus decides what a valid sendMessage q from conn does, by the
// room's status, and does it unless the question goes to the RAG service:
//
//   - BOT: a customer's question goes on to the RAG service (handled
//     false) with the room's answer slot taken (free gives it back), or
//     gets ANSWER_IN_PROGRESS while another answer holds it; an agent gets
//     NOT_ASSIGNED (nobody holds the room);
//   - WAITING, AGENT: nothing goes to the RAG service; the customer's
//     message, and the assigned agent's, are stored (role user / agent)
//     and delivered to the room's other sockets as message frames; any
//     other agent gets NOT_ASSIGNED;
//   - CLOSED: ROOM_CLOSED.
//
// An answer that is streaming when the room changes runs to its end: the
// status is read when a question arrives, not while it is answered. The
// read also records the room's activity (lastActivityAt, unless CLOSED)
// and, for a customer in a BOT room, takes the answer slot (enterRoom),
// so that a question costs one request on the Rooms table before its
// answer (two when the write does not apply: the room is then read as
// it is). A refusal
// carries the question's clientMessageId and gives the id back (the
// client may send it again once the room allows it).
func (h *Handler) routeByStatus(ctx context.Context, r *relay.Relay, log *slog.Logger, t *turn) (free func(), handled bool) {
	conn, q := t.conn, t.q
	refuse := func(rej *rejection) {
		h.releaseRepeat(ctx, log, t)
		h.rejectQuestion(ctx, r, conn.ConnectionID, conn.RoomID, q, rej)
	}
	room, free, err := h.enterRoom(ctx, log, conn, t.answerID)
	if err != nil {
		log.Error("read the room's status", "err", err)
		refuse(&rejection{CodeInternal, clientMessages[CodeInternal]})
		return nil, true
	}
	agent := isAgent(conn)
	switch room.Status {
	case store.RoomStatusClosed:
		refuse(rejectRoomClosed)
		return nil, true
	case store.RoomStatusWaiting, store.RoomStatusAgent:
		if agent && (room.AssignedAgent == nil || *room.AssignedAgent != conn.UserID) {
			refuse(rejectNotAgent)
			return nil, true
		}
		h.relayMessage(ctx, r, log, t, refuse)
		return nil, true
	}
	if agent {
		refuse(rejectNotAgent)
		return nil, true
	}
	if free == nil {
		log.Info("question while the room's answer streams")
		refuse(rejectAnswerInProgress)
		return nil, true
	}
	return free, false
}

// relayMessage stores t's question as its caller's message (role agent for
// an agent, user otherwise; the room was touched when routed), and posts
// it as a message frame to every other live socket of the room that is
// not revoked (recipients.go). A message that cannot be stored is posted
// to nobody and the sender gets INTERNAL (through refuse).
func (h *Handler) relayMessage(ctx context.Context, r *relay.Relay, log *slog.Logger, t *turn, refuse func(*rejection)) {
	conn, q := t.conn, t.q
	role := store.RoleUser
	if isAgent(conn) {
		role = store.RoleAgent
	}
	now := h.now()
	msg := store.Message{
		RoomID: conn.RoomID, At: now.UnixMilli(), MessageID: store.NewMessageID(), Role: role,
		Text: q.Message, Category1: q.Category1, Category2: q.Category2, UserName: conn.UserName,
		ClientMessageID: q.ClientMessageID,
	}
	if err := h.History.PutMessage(ctx, msg); err != nil {
		log.Error("store the message", "err", err)
		refuse(&rejection{CodeInternal, clientMessages[CodeInternal]})
		return
	}
	ids, err := h.roomConnections(ctx, log, t)
	if err != nil {
		log.Error("list the room's connections; the message is stored but delivered to nobody", "err", err)
		return
	}
	others := allBut(ids, conn.ConnectionID)
	frame, err := relay.MessageFrame(relay.Message{
		SessionID: conn.RoomID, MessageID: msg.MessageID, Role: role, Text: msg.Text, UserName: msg.UserName,
		ClientMessageID: msg.ClientMessageID, CreatedAt: msg.At,
	})
	if err != nil {
		log.Error("encode the message frame", "err", err)
		return
	}
	res := r.Post(ctx, msg.MessageID, frame, others)
	log.Info("message relayed", "messageId", msg.MessageID, "role", role, "recipients", len(others),
		"frames", res.Frames, "gone", len(res.Gone), "failed", len(res.Failed))
}
