package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Store reads and writes ragchat's tables through the DynamoDB API. It uses
// single-item operations, queries and batched gets only: no Scan, no
// transactions, and it never relies on TTL deletion (expired items are
// filtered on read). It is safe for concurrent use.
type Store struct {
	db  *dynamodb.Client
	t   Tables
	now func() time.Time
}

// New returns a Store over db and the tables t.
func New(db *dynamodb.Client, t Tables) *Store {
	return &Store{db: db, t: t, now: time.Now}
}

// isConditionFailed reports whether err is a failed ConditionExpression.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// getItem reads the item at key of table with a strongly consistent read
// and decodes it with read; ErrNotFound when there is none.
func getItem[T any](ctx context.Context, s *Store, table string, key item, read func(map[string]types.AttributeValue) (T, error)) (T, error) {
	var zero T
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            key,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return zero, err
	}
	if out.Item == nil {
		return zero, ErrNotFound
	}
	return read(out.Item)
}

// itemWrite is a write of one item of table: a PutItem of put (an item
// type or a record, encoded whole), else at key an UpdateItem with update,
// or a DeleteItem when update is empty; applied only where cond holds when
// cond is not empty. names and values serve both expressions.
type itemWrite struct {
	table     string
	put       any
	key       item
	update    string
	cond      string
	names     map[string]string
	values    map[string]types.AttributeValue
	returnNew bool // an update returns the item as it is after it
}

// write runs w. applied is false, with a nil error, when w's condition did
// not hold: nothing changed. after is the item after an update with
// returnNew.
func (s *Store) write(ctx context.Context, w itemWrite) (after item, applied bool, err error) {
	var cond *string
	if w.cond != "" {
		cond = aws.String(w.cond)
	}
	switch {
	case w.put != nil:
		err = s.putItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(w.table), ConditionExpression: cond,
			ExpressionAttributeNames: w.names, ExpressionAttributeValues: w.values,
		}, w.put)
	case w.update == "":
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(w.table), Key: w.key, ConditionExpression: cond,
			ExpressionAttributeNames: w.names, ExpressionAttributeValues: w.values,
		})
	default:
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(w.table), Key: w.key, UpdateExpression: aws.String(w.update), ConditionExpression: cond,
			ExpressionAttributeNames: w.names, ExpressionAttributeValues: w.values,
		}
		if w.returnNew {
			in.ReturnValues = types.ReturnValueAllNew
		}
		var out *dynamodb.UpdateItemOutput
		if out, err = s.db.UpdateItem(ctx, in); err == nil {
			after = out.Attributes
		}
	}
	switch {
	case err == nil:
		return after, true, nil
	case isConditionFailed(err):
		return nil, false, nil
	}
	return nil, false, err
}

// putItem encodes v (an item type or a record) and writes it with in.
func (s *Store) putItem(ctx context.Context, in *dynamodb.PutItemInput, v any) error {
	it, err := marshal(v)
	if err != nil {
		return err
	}
	in.Item = it
	_, err = s.db.PutItem(ctx, in)
	return err
}

// GetUser returns the user companyID/userID, or ErrNotFound (also for empty ids).
func (s *Store) GetUser(ctx context.Context, companyID, userID string) (User, error) {
	if companyID == "" || userID == "" {
		return User{}, fmt.Errorf("get user %q/%q: %w", companyID, userID, ErrNotFound)
	}
	u, err := getItem(ctx, s, s.t.Users, item{attrCompanyID: avS(companyID), attrUserID: avS(userID)}, unmarshal[User])
	if err != nil {
		return User{}, fmt.Errorf("get user %s/%s: %w", companyID, userID, err)
	}
	return u, nil
}

// PutUser creates the user or replaces it whole.
func (s *Store) PutUser(ctx context.Context, u User) error {
	err := s.putItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.t.Users)}, u)
	if err != nil {
		return fmt.Errorf("put user %s/%s: %w", u.CompanyID, u.UserID, err)
	}
	return nil
}

// CreateRoom writes a new room. It never overwrites: if the room id is
// taken it returns ErrExists and changes nothing.
func (s *Store) CreateRoom(ctx context.Context, r Room) error {
	_, created, err := s.write(ctx, itemWrite{
		table: s.t.Rooms, put: newRoomRecord(r),
		cond: "attribute_not_exists(#id)", names: map[string]string{"#id": attrRoomID},
	})
	switch {
	case err != nil:
		return fmt.Errorf("create room %s: %w", r.RoomID, err)
	case !created:
		return fmt.Errorf("create room %s: %w", r.RoomID, ErrExists)
	}
	return nil
}

// GetRoom returns the room, or ErrNotFound (also for an empty id).
func (s *Store) GetRoom(ctx context.Context, roomID string) (Room, error) {
	if roomID == "" {
		return Room{}, fmt.Errorf("get room %q: %w", roomID, ErrNotFound)
	}
	r, err := getItem(ctx, s, s.t.Rooms, item{attrRoomID: avS(roomID)}, readRoom)
	if err != nil {
		return Room{}, fmt.Errorf("get room %s: %w", roomID, err)
	}
	return r, nil
}

// LatestRoom returns the most recently created room owned by
// companyID/userID (through the byOwner index, which is eventually
// consistent), or ErrNotFound when the user has none.
func (s *Store) LatestRoom(ctx context.Context, companyID, userID string) (Room, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.Rooms),
		IndexName:                 aws.String(indexByOwner),
		KeyConditionExpression:    aws.String("#o = :o"),
		ExpressionAttributeNames:  map[string]string{"#o": attrOwnerKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": avS(ownerKey(companyID, userID))},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
	})
	if err != nil {
		return Room{}, fmt.Errorf("latest room of %s/%s: %w", companyID, userID, err)
	}
	if len(out.Items) == 0 {
		return Room{}, fmt.Errorf("latest room of %s/%s: %w", companyID, userID, ErrNotFound)
	}
	r, err := readRoom(out.Items[0])
	if err != nil {
		return Room{}, fmt.Errorf("latest room of %s/%s: %w", companyID, userID, err)
	}
	return r, nil
}

// TouchRoom sets the room's lastActivityAt to atMs. It returns ErrNotFound
// and writes nothing when the room does not exist.
func (s *Store) TouchRoom(ctx context.Context, roomID string, atMs int64) error {
	_, touched, err := s.write(ctx, itemWrite{
		table:  s.t.Rooms,
		key:    item{attrRoomID: avS(roomID)},
		update: "SET #la = :at",
		cond:   "attribute_exists(#id)",
		names:  map[string]string{"#la": attrLastActivityAt, "#id": attrRoomID},
		values: map[string]types.AttributeValue{":at": avN(atMs)},
	})
	switch {
	case err != nil:
		return fmt.Errorf("touch room %s: %w", roomID, err)
	case !touched:
		return fmt.Errorf("touch room %s: %w", roomID, ErrNotFound)
	}
	return nil
}

// PutConnection stores (or replaces) a live websocket connection.
func (s *Store) PutConnection(ctx context.Context, c Connection) error {
	err := s.putItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.t.Connections)}, c)
	if err != nil {
		return fmt.Errorf("put connection %s: %w", c.ConnectionID, err)
	}
	return nil
}

// GetConnection returns the connection, or ErrNotFound when it does not
// exist or the id is empty; when it has expired (expiresAt <= now) it
// returns the connection and ErrExpired (which wraps ErrNotFound).
func (s *Store) GetConnection(ctx context.Context, connectionID string) (Connection, error) {
	if connectionID == "" {
		return Connection{}, fmt.Errorf("get connection %q: %w", connectionID, ErrNotFound)
	}
	c, err := getItem(ctx, s, s.t.Connections, item{attrConnectionID: avS(connectionID)}, unmarshal[Connection])
	if err != nil {
		return Connection{}, fmt.Errorf("get connection %s: %w", connectionID, err)
	}
	if c.ExpiresAt <= s.now().Unix() {
		return c, fmt.Errorf("get connection %s: %w", connectionID, ErrExpired)
	}
	return c, nil
}

// DeleteConnection deletes the connection and gives back the socket slot
// it holds (slots.go): two requests when it holds one, one otherwise.
// Deleting a missing connection succeeds.
func (s *Store) DeleteConnection(ctx context.Context, connectionID string) error {
	old, err := s.deleteConnection(ctx, connectionID, types.ReturnValueAllOld)
	if err != nil {
		return err
	}
	if sl, ok := old[attrSlot].(*types.AttributeValueMemberS); ok && sl.Value != "" {
		return s.FreeSocketSlot(ctx, sl.Value, connectionID)
	}
	return nil
}

// DeleteTakenOverConnection deletes the connection of a socket that is
// gone and whose slot another connection has taken over
// (TakeOverSocketSlot): the slot stays with its new holder, so unlike
// DeleteConnection this is one request. Deleting a missing connection
// succeeds.
func (s *Store) DeleteTakenOverConnection(ctx context.Context, connectionID string) error {
	_, err := s.deleteConnection(ctx, connectionID, types.ReturnValueNone)
	return err
}

// deleteConnection deletes the connection item, returning what it held
// when rv asks for it.
func (s *Store) deleteConnection(ctx context.Context, connectionID string, rv types.ReturnValue) (item, error) {
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:    aws.String(s.t.Connections),
		Key:          item{attrConnectionID: avS(connectionID)},
		ReturnValues: rv,
	})
	if err != nil {
		return nil, fmt.Errorf("delete connection %s: %w", connectionID, err)
	}
	return out.Attributes, nil
}

// ExpireConnection ends the connection's life at now, its socket open or
// not: expiresAt becomes now (never later than it was), so that readers
// take it for gone (GetConnection returns ErrExpired, RoomConnections
// skips it). A missing or already expired connection is left as it is.
func (s *Store) ExpireConnection(ctx context.Context, connectionID string, now time.Time) error {
	_, _, err := s.write(ctx, itemWrite{
		table: s.t.Connections, key: item{attrConnectionID: avS(connectionID)},
		update: "SET #e = :now", cond: "attribute_exists(#k) AND #e > :now",
		names:  map[string]string{"#k": attrConnectionID, "#e": attrExpiresAt},
		values: map[string]types.AttributeValue{":now": avN(now.Unix())},
	})
	if err != nil {
		return fmt.Errorf("expire connection %s: %w", connectionID, err)
	}
	return nil
}

// RoomConnections returns the room's connections that are live at now
// (expiresAt > now), in no particular order.
func (s *Store) RoomConnections(ctx context.Context, roomID string, now time.Time) ([]Connection, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.t.Connections),
		IndexName:                aws.String(indexByRoom),
		KeyConditionExpression:   aws.String("#r = :r"),
		FilterExpression:         aws.String("#e > :now"),
		ExpressionAttributeNames: map[string]string{"#r": attrRoomID, "#e": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":r": avS(roomID), ":now": avN(now.Unix()),
		},
	}
	var conns []Connection
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("connections of room %s: %w", roomID, err)
		}
		for _, m := range out.Items {
			c, err := unmarshal[Connection](m)
			if err != nil {
				return nil, fmt.Errorf("connections of room %s: %w", roomID, err)
			}
			conns = append(conns, c)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return conns, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// PutMessage stores a question or an answer under its room, keyed by time
// and message id. An item over DynamoDB's 400 KB item limit is refused by
// the server and returned as an error.
func (s *Store) PutMessage(ctx context.Context, m Message) error {
	err := s.putItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.t.Messages)}, newMessageRecord(m))
	if err != nil {
		return fmt.Errorf("put message %s in room %s: %w", m.MessageID, m.RoomID, err)
	}
	return nil
}
