package store

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names: the only place that knows them. The item
// types (types.go and the records below) name the same attributes in their
// dynamodbav tags; these constants are for keys and expressions.
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
	// Socket slots (slots.go), in the Connections table.
	attrHolder = "holder"
	attrSlot   = "slot"

	// Messages
	attrSK        = "sk"
	attrMessageID = "messageId"
	attrText      = "text"
	attrOutcome   = "outcome"
	attrCategory1 = "category1"
	attrCategory2 = "category2"
	attrAt        = "at"
	attrEvent     = "event"
	// Repeats (repeats.go), in the Messages table.
	attrQuestionID = "questionId"

	// LoginAttempts
	attrAttemptKey  = "attemptKey"
	attrFailures    = "failures"
	attrWindowStart = "windowStart"

	// Limits
	attrLimitKey = "limitKey"
	attrTAT      = "tat" // a token bucket's theoretical arrival time, epoch ms

	// Rooms: the answer in flight (message function)
	attrAnsweringID    = "answeringId"
	attrAnsweringUntil = "answeringUntil" // epoch ms
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

// stringList is a list of S, for expression values.
func stringList(v []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(v))
	for i, s := range v {
		l[i] = avS(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// item is a key or an item as the SDK takes it.
type item map[string]types.AttributeValue

// Records: an item as stored is its type's fields (dynamodbav tags; empty
// optional strings are omitted, since older DynamoDB-compatible servers
// refuse them, and nil pointers are NULL) plus the keys derived from them,
// which the record types below add explicitly.

// roomRecord is a Rooms item: the room and the keys of its indexes.
type roomRecord struct {
	Room
	OwnerKey   string `dynamodbav:"ownerKey"`
	StatusKey  string `dynamodbav:"statusKey,omitempty"`
	WaitingKey string `dynamodbav:"waitingKey"`
}

// newRoomRecord is rm with its derived keys. No members is an empty list,
// as in the trace's "members": []; a room that is not WAITING sits in
// byWaiting under its own idle key with waitingSince 0.
func newRoomRecord(rm Room) roomRecord {
	if rm.Members == nil {
		rm.Members = []string{}
	}
	rec := roomRecord{Room: rm, OwnerKey: ownerKey(rm.CompanyID, rm.UserID), WaitingKey: idleWaitingKey(rm.RoomID)}
	if rm.Status != "" {
		rec.StatusKey = statusKey(rm.CompanyID, rm.Status)
	}
	if rm.Status == RoomStatusWaiting {
		rec.WaitingKey = rm.CompanyID
	} else {
		rec.WaitingSince = 0
	}
	return rec
}

// readRoom decodes a room; absent or NULL members read as an empty list.
func readRoom(m map[string]types.AttributeValue) (Room, error) {
	rm, err := unmarshal[Room](m)
	if rm.Members == nil {
		rm.Members = []string{}
	}
	return rm, err
}

// messageRecord is a Messages item: the message and its sort key.
type messageRecord struct {
	Message
	SK string `dynamodbav:"sk"`
}

// newMessageRecord is msg with its sort key.
func newMessageRecord(msg Message) messageRecord {
	return messageRecord{Message: msg, SK: messageSK(msg.At, msg.MessageID)}
}

// marshal encodes v (an item type or a record) as an item.
func marshal(v any) (item, error) {
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return m, nil
}

// unmarshal decodes an item (or the attributes an update returned) into a
// T; an attribute whose type does not fit its field is an error.
func unmarshal[T any](m map[string]types.AttributeValue) (T, error) {
	var v T
	if err := attributevalue.UnmarshalMap(m, &v); err != nil {
		return v, fmt.Errorf("decode %T: %w", v, err)
	}
	return v, nil
}
