// Package handoff tells a room about its status changes (DESIGN.md,
// "Handoff"). The changes themselves are store's conditional transitions;
// this package is what follows each one, for the agent function (claim,
// release, close) and the message function (the customer's handoff):
//
//   - one system message (role system, with its event) is stored in the
//     room's history;
//   - one status frame goes to every live socket of the room, the one that
//     caused the change included, carrying the room's new status, its
//     agent and that system message, so that what sockets were sent is
//     what history holds; sockets whose token a password change has
//     revoked since they connected get nothing (Revoker);
//   - the posts follow the relay's failure rules (relay.Relay.Post): a
//     gone socket is deleted and skipped, throttling and 5xx are retried,
//     no socket waits for another.
package handoff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// Store is what an announcement needs of the store. *store.Store
// implements it.
type Store interface {
	PutMessage(ctx context.Context, m store.Message) error
	RoomConnections(ctx context.Context, roomID string, now time.Time) ([]store.Connection, error)
}

// Revoker tells the connections whose token was revoked since they
// connected. *apigw.Versions implements it.
type Revoker interface {
	Revoked(ctx context.Context, conns []store.Connection) (map[string]bool, error)
}

// Poster posts one ready-made frame to connections. *relay.Relay
// implements it.
type Poster interface {
	Post(ctx context.Context, label string, frame []byte, connectionIDs []string) relay.Result
}

// Change is a room's status change, as it is announced.
type Change struct {
	Room      store.Room // the room after the change
	Event     string     // store.Event*
	AgentName string     // the agent who joined, left or closed; "" for the customer's handoff
	Reason    string     // the customer's reason for a handoff, "" when none given
}

// Text is the system message of c.
func (c Change) Text() string {
	switch c.Event {
	case store.EventHandoffRequested:
		if c.Reason != "" {
			return "상담원 연결을 요청했습니다. (사유: " + c.Reason + ")"
		}
		return "상담원 연결을 요청했습니다."
	case store.EventAgentJoined:
		return c.AgentName + " 상담원이 연결되었습니다."
	case store.EventAgentLeft:
		return c.AgentName + " 상담원이 상담을 마쳤습니다. 이제 챗봇이 답변합니다."
	case store.EventRoomClosed:
		return c.AgentName + " 상담원이 상담을 종료했습니다."
	}
	return c.Event
}

// StatusOf is the status frame telling room's current status, without a
// system message.
func StatusOf(room store.Room) relay.Status {
	s := relay.Status{SessionID: room.RoomID, Status: room.Status, AssignedAgent: room.AssignedAgent}
	if room.AssignedAgent != nil {
		name := room.AssignedAgentName
		s.AgentName = &name
	}
	return s
}

// Announce follows change c: it stores c's system message, then posts the
// status frame to every live socket of the room that rv does not find
// revoked. The message is stored first, so a socket that reads the
// history after the frame finds it. An error means the message could not
// be stored or the sockets not listed (and nothing was posted), or that
// rv could not tell some sockets (which got the frame all the same): the
// change itself stands.
func Announce(ctx context.Context, st Store, p Poster, c Change, now time.Time, rv Revoker) (relay.Result, error) {
	room := c.Room
	msg := store.Message{
		RoomID: room.RoomID, At: max(now.UnixMilli(), room.LastActivityAt), MessageID: store.NewMessageID(),
		Role: store.RoleSystem, Text: c.Text(), Event: c.Event,
	}
	if err := st.PutMessage(ctx, msg); err != nil {
		return relay.Result{}, fmt.Errorf("announce %s in room %s: %w", c.Event, room.RoomID, err)
	}
	s := StatusOf(room)
	s.MessageID, s.Event, s.Text, s.CreatedAt = msg.MessageID, msg.Event, msg.Text, msg.At
	conns, err := st.RoomConnections(ctx, room.RoomID, now)
	if err != nil {
		return relay.Result{}, fmt.Errorf("announce %s in room %s: %w", c.Event, room.RoomID, err)
	}
	revoked, rerr := rv.Revoked(ctx, conns)
	if rerr != nil {
		rerr = fmt.Errorf("announce %s in room %s: %w", c.Event, room.RoomID, rerr)
	}
	ids := make([]string, 0, len(conns))
	for _, conn := range conns {
		if !revoked[conn.ConnectionID] {
			ids = append(ids, conn.ConnectionID)
		}
	}
	res, err := Tell(ctx, p, s, ids)
	return res, errors.Join(err, rerr)
}

// Tell posts the status frame s to the connections ids.
func Tell(ctx context.Context, p Poster, s relay.Status, ids []string) (relay.Result, error) {
	frame, err := relay.StatusFrame(s)
	if err != nil {
		return relay.Result{}, err
	}
	label := s.MessageID
	if label == "" {
		label = "status-" + s.SessionID
	}
	return p.Post(ctx, label, frame, ids), nil
}
