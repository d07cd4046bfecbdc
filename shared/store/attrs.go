package store

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names: the only place that knows them.
const (
	// Users
	attrCompanyID    = "companyId"
	attrUserID       = "userId"
	attrUserName     = "userName"
	attrEmail        = "email"
	attrRole         = "role"
	attrPasswordHash = "passwordHash"
	attrCreatedAt    = "createdAt"

	// Rooms
	attrRoomID         = "roomId"
	attrOwnerKey       = "ownerKey"
	attrRoomName       = "roomName"
	attrMembers        = "members"
	attrStatus         = "status"
	attrAssignedAgent  = "assignedAgent"
	attrCustID         = "custId"
	attrLastActivityAt = "lastActivityAt"
	indexByOwner       = "byOwner"
	// Handoff (handoff.go): the agents' queues.
	attrAssignedAgentName = "assignedAgentName"
	attrStatusKey         = "statusKey"    // companyId#status: the byStatus partition
	attrWaitingKey        = "waitingKey"   // the byWaiting partition: companyId while WAITING, else idleWaitingKey
	attrWaitingSince      = "waitingSince" // epoch ms the room entered WAITING: the byWaiting sort key
	indexByStatus         = "byStatus"     // statusKey, lastActivityAt
	indexByWaiting        = "byWaiting"    // waitingKey, waitingSince

	// Connections
	attrConnectionID = "connectionId"
	attrConnectedAt  = "connectedAt"
	attrExpiresAt    = "expiresAt" // TTL attribute, epoch seconds (also LoginAttempts)
	indexByRoom      = "byRoom"

	// Messages
	attrSK        = "sk"
	attrMessageID = "messageId"
	attrText      = "text"
	attrOutcome   = "outcome"
	attrCategory1 = "category1"
	attrCategory2 = "category2"
	attrAt        = "at"
	attrEvent     = "event"

	// LoginAttempts
	attrAttemptKey  = "attemptKey"
	attrFailures    = "failures"
	attrWindowStart = "windowStart"
	attrLockedUntil = "lockedUntil"
)

// statusKey is the byStatus partition key of a room.
func statusKey(companyID, status string) string { return companyID + "#" + status }

// idleWaitingKey is the byWaiting partition of a room that is not WAITING:
// one of its own ("~" never starts a company id), which no listing reads.
// Every room stays in byWaiting rather than leaving it (a sparse index):
// the embedded DynamoDB (minidyn) loses index entries when UpdateItem adds
// or removes an index key, and a per-room value spreads the writes.
func idleWaitingKey(roomID string) string { return "~" + roomID }

// ownerKey is the byOwner partition key of a room.
func ownerKey(companyID, userID string) string { return companyID + "#" + userID }

// messageSK is a message's sort key: 13-digit zero-padded epoch ms, "#",
// message id, so that keys sort by time.
func messageSK(atMs int64, messageID string) string {
	return fmt.Sprintf("%013d#%s", atMs, messageID)
}

func avS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func avN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// avNullable is an S, or NULL for nil.
func avNullable(v *string) types.AttributeValue {
	if v == nil {
		return &types.AttributeValueMemberNULL{Value: true}
	}
	return avS(*v)
}

// item builds an item, leaving out empty optional strings (which older
// DynamoDB-compatible servers refuse).
type item map[string]types.AttributeValue

func (it item) setOptional(name, v string) {
	if v != "" {
		it[name] = avS(v)
	}
}

// reader reads attributes of an item, remembering the first malformed one.
type reader struct {
	item map[string]types.AttributeValue
	err  error
}

func (r *reader) fail(name string, v types.AttributeValue) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s: unexpected value %T", name, v)
	}
}

// s returns a string attribute; "" when absent.
func (r *reader) s(name string) string {
	switch v := r.item[name].(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberS:
		return v.Value
	default:
		r.fail(name, v)
		return ""
	}
}

// n returns a number attribute; 0 when absent.
func (r *reader) n(name string) int64 {
	switch v := r.item[name].(type) {
	case nil:
		return 0
	case *types.AttributeValueMemberN:
		x, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil && r.err == nil {
			r.err = fmt.Errorf("attribute %s: %w", name, err)
		}
		return x
	default:
		r.fail(name, v)
		return 0
	}
}

// nullable returns an S attribute, nil when absent or NULL.
func (r *reader) nullable(name string) *string {
	switch v := r.item[name].(type) {
	case nil, *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberS:
		s := v.Value
		return &s
	default:
		r.fail(name, v)
		return nil
	}
}

// strings returns a list of S; an empty, non-nil slice when absent.
func (r *reader) strings(name string) []string {
	out := []string{}
	switch v := r.item[name].(type) {
	case nil:
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			s, ok := e.(*types.AttributeValueMemberS)
			if !ok {
				r.fail(name, e)
				continue
			}
			out = append(out, s.Value)
		}
	default:
		r.fail(name, v)
	}
	return out
}

func stringList(v []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(v))
	for i, s := range v {
		l[i] = avS(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func userItem(u User) item {
	it := item{
		attrCompanyID:    avS(u.CompanyID),
		attrUserID:       avS(u.UserID),
		attrPasswordHash: avS(u.PasswordHash),
		attrCreatedAt:    avN(u.CreatedAt),
	}
	it.setOptional(attrUserName, u.UserName)
	it.setOptional(attrEmail, u.Email)
	it.setOptional(attrRole, u.Role)
	return it
}

func readUser(m map[string]types.AttributeValue) (User, error) {
	r := reader{item: m}
	u := User{
		CompanyID:    r.s(attrCompanyID),
		UserID:       r.s(attrUserID),
		UserName:     r.s(attrUserName),
		Email:        r.s(attrEmail),
		Role:         r.s(attrRole),
		PasswordHash: r.s(attrPasswordHash),
		CreatedAt:    r.n(attrCreatedAt),
	}
	return u, r.err
}

func roomItem(rm Room) item {
	it := item{
		attrRoomID:         avS(rm.RoomID),
		attrCompanyID:      avS(rm.CompanyID),
		attrUserID:         avS(rm.UserID),
		attrOwnerKey:       avS(ownerKey(rm.CompanyID, rm.UserID)),
		attrMembers:        stringList(rm.Members),
		attrAssignedAgent:  avNullable(rm.AssignedAgent),
		attrCustID:         avNullable(rm.CustID),
		attrCreatedAt:      avN(rm.CreatedAt),
		attrLastActivityAt: avN(rm.LastActivityAt),
	}
	it.setOptional(attrRoomName, rm.RoomName)
	it.setOptional(attrStatus, rm.Status)
	it.setOptional(attrAssignedAgentName, rm.AssignedAgentName)
	if rm.Status != "" {
		it[attrStatusKey] = avS(statusKey(rm.CompanyID, rm.Status))
	}
	waitingKey, waitingSince := idleWaitingKey(rm.RoomID), int64(0)
	if rm.Status == RoomStatusWaiting {
		waitingKey, waitingSince = rm.CompanyID, rm.WaitingSince
	}
	it[attrWaitingKey], it[attrWaitingSince] = avS(waitingKey), avN(waitingSince)
	return it
}

func readRoom(m map[string]types.AttributeValue) (Room, error) {
	r := reader{item: m}
	rm := Room{
		RoomID:         r.s(attrRoomID),
		CompanyID:      r.s(attrCompanyID),
		UserID:         r.s(attrUserID),
		RoomName:       r.s(attrRoomName),
		Members:        r.strings(attrMembers),
		Status:         r.s(attrStatus),
		AssignedAgent:  r.nullable(attrAssignedAgent),
		CustID:         r.nullable(attrCustID),
		CreatedAt:      r.n(attrCreatedAt),
		LastActivityAt: r.n(attrLastActivityAt),

		AssignedAgentName: r.s(attrAssignedAgentName),
		WaitingSince:      r.n(attrWaitingSince),
	}
	return rm, r.err
}

func connectionItem(c Connection) item {
	it := item{
		attrConnectionID: avS(c.ConnectionID),
		attrRoomID:       avS(c.RoomID),
		attrConnectedAt:  avN(c.ConnectedAt),
		attrExpiresAt:    avN(c.ExpiresAt),
	}
	it.setOptional(attrUserID, c.UserID)
	it.setOptional(attrUserName, c.UserName)
	it.setOptional(attrCompanyID, c.CompanyID)
	it.setOptional(attrRole, c.Role)
	return it
}

func readConnection(m map[string]types.AttributeValue) (Connection, error) {
	r := reader{item: m}
	c := Connection{
		ConnectionID: r.s(attrConnectionID),
		RoomID:       r.s(attrRoomID),
		UserID:       r.s(attrUserID),
		UserName:     r.s(attrUserName),
		CompanyID:    r.s(attrCompanyID),
		Role:         r.s(attrRole),
		ConnectedAt:  r.n(attrConnectedAt),
		ExpiresAt:    r.n(attrExpiresAt),
	}
	return c, r.err
}

func messageItem(msg Message) item {
	it := item{
		attrRoomID:    avS(msg.RoomID),
		attrSK:        avS(messageSK(msg.At, msg.MessageID)),
		attrMessageID: avS(msg.MessageID),
		attrAt:        avN(msg.At),
		attrRole:      avS(msg.Role),
	}
	it.setOptional(attrText, msg.Text)
	it.setOptional(attrOutcome, msg.Outcome)
	it.setOptional(attrCategory1, msg.Category1)
	it.setOptional(attrCategory2, msg.Category2)
	it.setOptional(attrUserName, msg.UserName)
	it.setOptional(attrEvent, msg.Event)
	return it
}

func readMessage(m map[string]types.AttributeValue) (Message, error) {
	r := reader{item: m}
	msg := Message{
		RoomID:    r.s(attrRoomID),
		At:        r.n(attrAt),
		MessageID: r.s(attrMessageID),
		Role:      r.s(attrRole),
		Text:      r.s(attrText),
		Outcome:   r.s(attrOutcome),
		Category1: r.s(attrCategory1),
		Category2: r.s(attrCategory2),
		UserName:  r.s(attrUserName),
		Event:     r.s(attrEvent),
	}
	return msg, r.err
}
