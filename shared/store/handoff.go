package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The room's handoff state machine (DESIGN.md, "Handoff"):
//
//	BOT --RequestHandoff--> WAITING --ClaimRoom--> AGENT --ReleaseRoom--> BOT
//	 \______________ ClaimRoom (takes over) _____/      \--CloseRoom--> CLOSED
//
// Every transition is one UpdateItem whose condition is the state it was
// decided on, so concurrent callers never both win: of two agents claiming
// at once exactly one is assigned, the other gets ErrAlreadyAssigned. A
// transition that finds the room changed under it reads it again and
// decides anew (at most transitionAttempts times).

// Errors of the transitions, besides ErrNotFound (an unknown room, or a
// room of another company: callers answer both alike).
var (
	// ErrRoomClosed: the room is CLOSED; nothing changes it any more.
	ErrRoomClosed = errors.New("room closed")
	// ErrAlreadyAssigned: another agent holds the room.
	ErrAlreadyAssigned = errors.New("room assigned to another agent")
	// ErrNotAssigned: the agent does not hold the room (it is not in AGENT,
	// or another agent holds it).
	ErrNotAssigned = errors.New("room not assigned to this agent")
)

// System message events, stored with role RoleSystem on every transition.
const (
	EventHandoffRequested = "handoff_requested"
	EventAgentJoined      = "agent_joined"
	EventAgentLeft        = "agent_left"
	EventRoomClosed       = "room_closed"
)

// transitionAttempts bounds how often a transition re-reads a room that
// changed between its read and its conditional write.
const transitionAttempts = 4

// Agent is the agent of a claim: the user id and display name.
type Agent struct {
	UserID string
	Name   string
}

// change is the write a transition decided on: the new status and the
// attributes that go with it, applied only if the room still has the
// status (and, for AGENT, the assigned agent) it was decided on.
type change struct {
	status string
	set    map[string]types.AttributeValue // attributes to SET besides status, statusKey and lastActivityAt
	remove []string                        // attributes to REMOVE
	// membersLen, when >= 0, is the length members must still have: the
	// new members list was computed from the one read.
	membersLen int
}

// transition reads room roomID of companyID, asks decide what to do with
// it, and applies the change conditionally. decide returns nil for "no
// change" (the room is returned as read, changed false) or an error to
// refuse. It returns the room after the change.
func (s *Store) transition(ctx context.Context, op, companyID, roomID string, atMs int64, decide func(Room) (*change, error)) (Room, bool, error) {
	for range transitionAttempts {
		room, err := s.GetRoom(ctx, roomID)
		if err != nil {
			return Room{}, false, fmt.Errorf("%s: %w", op, err)
		}
		if room.CompanyID != companyID {
			return Room{}, false, fmt.Errorf("%s %s: of company %s: %w", op, roomID, room.CompanyID, ErrNotFound)
		}
		c, err := decide(room)
		if err != nil {
			return room, false, fmt.Errorf("%s %s (%s): %w", op, roomID, room.Status, err)
		}
		if c == nil {
			return room, false, nil
		}
		after, err := s.applyChange(ctx, room, c, max(atMs, room.LastActivityAt))
		if isConditionFailed(err) {
			continue // changed since the read: decide again
		}
		if err != nil {
			return Room{}, false, fmt.Errorf("%s %s: %w", op, roomID, err)
		}
		return after, true, nil
	}
	return Room{}, false, fmt.Errorf("%s %s: the room kept changing during %d attempts", op, roomID, transitionAttempts)
}

// applyChange writes c to room, on the condition that the room still has
// the status, assigned agent and members length it was read with.
func (s *Store) applyChange(ctx context.Context, room Room, c *change, atMs int64) (Room, error) {
	names := map[string]string{"#st": attrStatus, "#sk": attrStatusKey, "#la": attrLastActivityAt}
	values := map[string]types.AttributeValue{
		":st": avS(c.status), ":sk": avS(statusKey(room.CompanyID, c.status)), ":la": avN(atMs),
		":was": avS(room.Status),
	}
	update := "SET #st = :st, #sk = :sk, #la = :la"
	for i, name := range slices.Sorted(maps.Keys(c.set)) {
		n, v := fmt.Sprintf("#s%d", i), fmt.Sprintf(":s%d", i)
		names[n], values[v] = name, c.set[name]
		update += ", " + n + " = " + v
	}
	for i, name := range c.remove {
		n := fmt.Sprintf("#r%d", i)
		names[n] = name
		if i == 0 {
			update += " REMOVE " + n
		} else {
			update += ", " + n
		}
	}
	cond := "#st = :was"
	if room.AssignedAgent != nil {
		cond += " AND #aa = :wasAgent"
		names["#aa"] = attrAssignedAgent
		values[":wasAgent"] = avS(*room.AssignedAgent)
	}
	if c.membersLen >= 0 {
		names["#m"] = attrMembers
		values[":n"] = avN(int64(c.membersLen))
		cond += " AND size(#m) = :n"
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Rooms),
		Key:                       item{attrRoomID: avS(room.RoomID)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return Room{}, err
	}
	return readRoom(out.Attributes)
}

// RequestHandoff is the customer's request for a person in room roomID of
// companyID: a BOT room becomes WAITING (waitingSince atMs) and changed is
// true. A WAITING or AGENT room is returned unchanged; a CLOSED room gives
// ErrRoomClosed.
func (s *Store) RequestHandoff(ctx context.Context, companyID, roomID string, atMs int64) (Room, bool, error) {
	return s.transition(ctx, "request handoff", companyID, roomID, atMs, func(r Room) (*change, error) {
		switch r.Status {
		case RoomStatusClosed:
			return nil, ErrRoomClosed
		case RoomStatusWaiting, RoomStatusAgent:
			return nil, nil
		}
		return &change{
			status:     RoomStatusWaiting,
			set:        map[string]types.AttributeValue{attrWaitingKey: avS(r.CompanyID), attrWaitingSince: avN(atMs)},
			membersLen: -1,
		}, nil
	})
}

// ClaimRoom assigns room roomID of companyID to agent a: from BOT or
// WAITING the room becomes AGENT with assignedAgent a and a in members
// (changed true). A room a already holds is returned unchanged; a room
// another agent holds gives ErrAlreadyAssigned, a CLOSED room
// ErrRoomClosed.
func (s *Store) ClaimRoom(ctx context.Context, companyID, roomID string, a Agent, atMs int64) (Room, bool, error) {
	return s.transition(ctx, "claim", companyID, roomID, atMs, func(r Room) (*change, error) {
		switch {
		case r.Status == RoomStatusClosed:
			return nil, ErrRoomClosed
		case r.Status == RoomStatusAgent && r.AssignedAgent != nil && *r.AssignedAgent == a.UserID:
			return nil, nil
		case r.Status == RoomStatusAgent:
			return nil, ErrAlreadyAssigned
		}
		members := r.Members
		if !slices.Contains(members, a.UserID) {
			members = append(slices.Clip(members), a.UserID)
		}
		return &change{
			status: RoomStatusAgent,
			set: map[string]types.AttributeValue{
				attrAssignedAgent: avS(a.UserID), attrAssignedAgentName: avS(a.Name), attrMembers: stringList(members),
				attrWaitingKey: avS(idleWaitingKey(r.RoomID)), attrWaitingSince: avN(0),
			},
			membersLen: len(r.Members),
		}, nil
	})
}

// ReleaseRoom hands room roomID of companyID, held by agentID, back to the
// bot: AGENT becomes BOT and assignedAgent null (members keep the agent).
// A room agentID does not hold gives ErrNotAssigned, a CLOSED room
// ErrRoomClosed.
func (s *Store) ReleaseRoom(ctx context.Context, companyID, roomID, agentID string, atMs int64) (Room, error) {
	return s.leave(ctx, "release", companyID, roomID, agentID, RoomStatusBot, atMs)
}

// CloseRoom ends room roomID of companyID, held by agentID: AGENT becomes
// CLOSED and assignedAgent null. A room agentID does not hold gives
// ErrNotAssigned, a CLOSED room ErrRoomClosed.
func (s *Store) CloseRoom(ctx context.Context, companyID, roomID, agentID string, atMs int64) (Room, error) {
	return s.leave(ctx, "close", companyID, roomID, agentID, RoomStatusClosed, atMs)
}

// leave moves a room agentID holds to status (BOT or CLOSED).
func (s *Store) leave(ctx context.Context, op, companyID, roomID, agentID, status string, atMs int64) (Room, error) {
	r, _, err := s.transition(ctx, op, companyID, roomID, atMs, func(r Room) (*change, error) {
		switch {
		case r.Status == RoomStatusClosed:
			return nil, ErrRoomClosed
		case r.Status != RoomStatusAgent || r.AssignedAgent == nil || *r.AssignedAgent != agentID:
			return nil, ErrNotAssigned
		}
		return &change{
			status:     status,
			set:        map[string]types.AttributeValue{attrAssignedAgent: &types.AttributeValueMemberNULL{Value: true}},
			remove:     []string{attrAssignedAgentName},
			membersLen: -1,
		}, nil
	})
	return r, err
}
