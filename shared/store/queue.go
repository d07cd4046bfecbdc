package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrBadCursor is returned (wrapped) for a page cursor that the same query
// did not hand out: malformed, tampered with, or of another query.
var ErrBadCursor = errors.New("invalid page cursor")

// RoomPage is one page of a room listing; Next is the opaque cursor of the
// following page, "" when there is none.
type RoomPage struct {
	Rooms []Room
	Next  string
}

// RoomsByStatus lists the rooms of companyID in status, limit (> 0) at a
// time, from the page after cursor ("" for the first). WAITING rooms come
// longest-waiting first (the sparse byWaiting index, by waitingSince);
// rooms in any other status newest activity first (byStatus, by
// lastActivityAt). Both are queries on an index: never a Scan, and
// eventually consistent, so a room that has just changed status may show
// in its old list for a moment. A cursor that is not one this listing
// handed out gives ErrBadCursor.
func (s *Store) RoomsByStatus(ctx context.Context, companyID, status string, limit int, cursor string) (RoomPage, error) {
	if limit <= 0 {
		return RoomPage{}, fmt.Errorf("rooms of %s in %s: limit %d must be positive", companyID, status, limit)
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.t.Rooms),
		KeyConditionExpression:   aws.String("#p = :p"),
		ExpressionAttributeNames: map[string]string{},
	}
	var schema cursorSchema
	if status == RoomStatusWaiting {
		in.IndexName = aws.String(indexByWaiting)
		in.ExpressionAttributeNames["#p"] = attrWaitingKey
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":p": avS(companyID)}
		in.ScanIndexForward = aws.Bool(true)
		schema = cursorSchema{partition: attrWaitingKey, partitionValue: companyID, sort: attrWaitingSince}
	} else {
		in.IndexName = aws.String(indexByStatus)
		in.ExpressionAttributeNames["#p"] = attrStatusKey
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":p": avS(statusKey(companyID, status))}
		in.ScanIndexForward = aws.Bool(false)
		schema = cursorSchema{partition: attrStatusKey, partitionValue: statusKey(companyID, status), sort: attrLastActivityAt}
	}
	page, err := s.queryRooms(ctx, in, schema, limit, cursor)
	if err != nil {
		return RoomPage{}, fmt.Errorf("rooms of %s in %s: %w", companyID, status, err)
	}
	return page, nil
}

// queryRooms runs a room listing's query from the page after cursor: one
// Query for limit+1 rooms, so that Next is set only when a page follows.
func (s *Store) queryRooms(ctx context.Context, in *dynamodb.QueryInput, schema cursorSchema, limit int, cursor string) (RoomPage, error) {
	if cursor != "" {
		start, err := schema.decode(cursor)
		if err != nil {
			return RoomPage{}, err
		}
		in.ExclusiveStartKey = start
	}
	in.Limit = aws.Int32(int32(limit + 1))
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return RoomPage{}, err
	}
	page := RoomPage{Rooms: make([]Room, 0, min(len(out.Items), limit))}
	for i, m := range out.Items {
		if i == limit {
			// The item holds every key attribute (the indexes project ALL).
			if page.Next, err = schema.encode(out.Items[limit-1]); err != nil {
				return RoomPage{}, err
			}
			break
		}
		r, err := readRoom(m)
		if err != nil {
			return RoomPage{}, err
		}
		page.Rooms = append(page.Rooms, r)
	}
	return page, nil
}

// cursorSchema is the shape of a listing's LastEvaluatedKey: the table key
// (roomId), the index partition (whose value is the listing's own) and the
// index sort key (a number).
type cursorSchema struct {
	partition, partitionValue, sort string
}

// cursorBody is a cursor before base64url: the three key values.
type cursorBody struct {
	RoomID    string `json:"r"`
	Partition string `json:"p"`
	Sort      int64  `json:"s"`
}

// encode turns a LastEvaluatedKey into an opaque cursor.
func (cs cursorSchema) encode(key map[string]types.AttributeValue) (string, error) {
	var b cursorBody
	for _, f := range []struct {
		name string
		to   any
	}{{attrRoomID, &b.RoomID}, {cs.partition, &b.Partition}, {cs.sort, &b.Sort}} {
		if err := attributevalue.Unmarshal(key[f.name], f.to); err != nil {
			return "", fmt.Errorf("encode cursor: attribute %s: %w", f.name, err)
		}
	}
	j, err := json.Marshal(b)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(j), nil
}

// decode turns a cursor back into an ExclusiveStartKey, refusing any that
// is not of this listing.
func (cs cursorSchema) decode(cursor string) (map[string]types.AttributeValue, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(cursor) > 512 {
		return nil, ErrBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var b cursorBody
	if err := dec.Decode(&b); err != nil || dec.More() || !ValidRoomID(b.RoomID) || b.Partition != cs.partitionValue || b.Sort < 0 {
		return nil, ErrBadCursor
	}
	return item{
		attrRoomID:   avS(b.RoomID),
		cs.partition: avS(b.Partition),
		cs.sort:      avN(b.Sort),
	}, nil
}
