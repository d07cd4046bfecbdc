package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Messages-table sort keys: a message's is messageSK (13 digits first), so
// every message sorts below messagesEnd, and other records of a room's
// partition (repeats.go) sort above it and never show in a history page.
const messagesEnd = ":" // the byte after '9'

// MessagePage is one page of a room's history: messages oldest first, and
// Next the opaque cursor of the page before it ("" when none).
type MessagePage struct {
	Messages []Message
	Next     string
}

// History returns a page of the room's history: its newest limit (> 0)
// messages, or with before (a Next of this room's earlier page) the limit
// messages before those; oldest first within the page. It is one strongly
// consistent Query. A cursor that this room's history did not hand out
// gives ErrBadCursor.
func (s *Store) History(ctx context.Context, roomID string, limit int, before string) (MessagePage, error) {
	if limit <= 0 {
		return MessagePage{}, fmt.Errorf("history of room %s: limit %d must be positive", roomID, limit)
	}
	upTo := messagesEnd
	if before != "" {
		sk, err := decodeHistoryCursor(roomID, before)
		if err != nil {
			return MessagePage{}, fmt.Errorf("history of room %s: %w", roomID, err)
		}
		upTo = sk
	}
	// One more than a page tells whether there is a page before it.
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.t.Messages),
		KeyConditionExpression:   aws.String("#r = :r AND #sk < :upTo"),
		ExpressionAttributeNames: map[string]string{"#r": attrRoomID, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":r": avS(roomID), ":upTo": avS(upTo),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
		Limit:            aws.Int32(int32(limit + 1)),
	})
	if err != nil {
		return MessagePage{}, fmt.Errorf("history of room %s: %w", roomID, err)
	}
	var page MessagePage
	for i, m := range out.Items {
		if i == limit {
			last := page.Messages[limit-1]
			page.Next = encodeHistoryCursor(roomID, messageSK(last.At, last.MessageID))
			break
		}
		msg, err := unmarshal[Message](m)
		if err != nil {
			return MessagePage{}, fmt.Errorf("history of room %s: %w", roomID, err)
		}
		page.Messages = append(page.Messages, msg)
	}
	slices.Reverse(page.Messages)
	if page.Messages == nil {
		page.Messages = []Message{}
	}
	return page, nil
}

// GetMessage returns the message of roomID stored at atMs with messageID,
// or ErrNotFound.
func (s *Store) GetMessage(ctx context.Context, roomID string, atMs int64, messageID string) (Message, error) {
	m, err := getItem(ctx, s, s.t.Messages, item{attrRoomID: avS(roomID), attrSK: avS(messageSK(atMs, messageID))}, unmarshal[Message])
	if err != nil {
		return Message{}, fmt.Errorf("get message %s in room %s: %w", messageID, roomID, err)
	}
	return m, nil
}

// historyCursor is a history cursor before base64url: the room and the
// sort key of the oldest message of the page after it.
type historyCursor struct {
	Room string `json:"r"`
	SK   string `json:"k"`
}

// skPattern is the form of a message's sort key (messageSK).
var skPattern = regexp.MustCompile(`^[0-9]{13}#[A-Za-z0-9_-]{1,64}$`)

func encodeHistoryCursor(roomID, sk string) string {
	j, _ := json.Marshal(historyCursor{Room: roomID, SK: sk}) // two strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(j)
}

// decodeHistoryCursor returns the sort key a cursor of roomID's history
// holds, refusing any other cursor.
func decodeHistoryCursor(roomID, cursor string) (string, error) {
	if len(cursor) > 512 {
		return "", ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", ErrBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c historyCursor
	if err := dec.Decode(&c); err != nil || dec.More() || c.Room != roomID || !skPattern.MatchString(c.SK) {
		return "", ErrBadCursor
	}
	return c.SK, nil
}

// RoomsOfOwner lists the rooms companyID/userID owns, newest first, limit
// (> 0) at a time, from the page after cursor ("" for the first). It is a
// Query on the byOwner index (eventually consistent: a room created a
// moment ago may be missing). A cursor that this listing did not hand out
// gives ErrBadCursor.
func (s *Store) RoomsOfOwner(ctx context.Context, companyID, userID string, limit int, cursor string) (RoomPage, error) {
	if limit <= 0 {
		return RoomPage{}, fmt.Errorf("rooms of %s/%s: limit %d must be positive", companyID, userID, limit)
	}
	owner := ownerKey(companyID, userID)
	schema := cursorSchema{partition: attrOwnerKey, partitionValue: owner, sort: attrCreatedAt}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.Rooms),
		IndexName:                 aws.String(indexByOwner),
		KeyConditionExpression:    aws.String("#o = :o"),
		ExpressionAttributeNames:  map[string]string{"#o": attrOwnerKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": avS(owner)},
		ScanIndexForward:          aws.Bool(false),
	}
	page, err := s.queryRooms(ctx, in, schema, limit, cursor)
	if err != nil {
		return RoomPage{}, fmt.Errorf("rooms of %s/%s: %w", companyID, userID, err)
	}
	return page, nil
}

// TouchOpenRoom sets the lastActivityAt of a room that is not CLOSED to
// atMs and returns the room as it is after: one UpdateItem that reads the
// room's status and records its activity. A CLOSED room is returned
// unchanged (one more GetItem); a missing one gives ErrNotFound.
func (s *Store) TouchOpenRoom(ctx context.Context, roomID string, atMs int64) (Room, error) {
	after, touched, err := s.write(ctx, itemWrite{
		table:     s.t.Rooms,
		key:       item{attrRoomID: avS(roomID)},
		update:    "SET #la = :at",
		cond:      "attribute_exists(#id) AND #st <> :closed",
		names:     map[string]string{"#la": attrLastActivityAt, "#id": attrRoomID, "#st": attrStatus},
		values:    map[string]types.AttributeValue{":at": avN(atMs), ":closed": avS(RoomStatusClosed)},
		returnNew: true,
	})
	switch {
	case err != nil:
		return Room{}, fmt.Errorf("touch room %s: %w", roomID, err)
	case !touched:
		return s.GetRoom(ctx, roomID)
	}
	r, err := readRoom(after)
	if err != nil {
		return Room{}, fmt.Errorf("touch room %s: %w", roomID, err)
	}
	return r, nil
}
