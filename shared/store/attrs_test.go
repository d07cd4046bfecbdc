package store_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/store"
)

// The items as stored: derived keys written (ownerKey, statusKey and the
// byWaiting keys, sk), no members an empty list, nil pointers NULL, empty
// optional strings left out.
func TestStore_ItemsAsStored(t *testing.T) {
	t.Parallel()
	db, tables := testkit.DynamoDB(t)
	s := store.New(db, tables)
	ctx := context.Background()
	S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	N := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	null := &types.AttributeValueMemberNULL{Value: true}

	if err := s.CreateRoom(ctx, store.Room{RoomID: "room-52d2b5b6", CompanyID: "apt001", UserID: "hong2",
		CreatedAt: 1769145304307, LastActivityAt: 1769145304308}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRoom(ctx, store.Room{RoomID: "room-0000000w", CompanyID: "apt001", UserID: "hong2", RoomName: "hong2",
		Members: []string{"hong2"}, Status: store.RoomStatusWaiting, CustID: strp("c-1"), CreatedAt: 1, WaitingSince: 2, LastActivityAt: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUser(ctx, store.User{CompanyID: "apt001", UserID: "hong2", PasswordHash: "$2a$10$x", CreatedAt: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConnection(ctx, store.Connection{ConnectionID: "c1=", RoomID: "room-52d2b5b6", ConnectedAt: 6, ExpiresAt: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMessage(ctx, store.Message{RoomID: "room-52d2b5b6", At: 1769145304307, MessageID: "m-1", Role: store.RoleUser, Text: "관리비?"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		table string
		key   map[string]types.AttributeValue
		want  map[string]types.AttributeValue
	}{
		{"room", tables.Rooms, map[string]types.AttributeValue{"roomId": S("room-52d2b5b6")}, map[string]types.AttributeValue{
			"roomId": S("room-52d2b5b6"), "companyId": S("apt001"), "userId": S("hong2"), "ownerKey": S("apt001#hong2"),
			"members": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}, "assignedAgent": null, "custId": null,
			"createdAt": N("1769145304307"), "lastActivityAt": N("1769145304308"),
			"waitingKey": S("~room-52d2b5b6"), "waitingSince": N("0"),
		}},
		{"waiting room", tables.Rooms, map[string]types.AttributeValue{"roomId": S("room-0000000w")}, map[string]types.AttributeValue{
			"roomId": S("room-0000000w"), "companyId": S("apt001"), "userId": S("hong2"), "ownerKey": S("apt001#hong2"),
			"roomName": S("hong2"), "members": &types.AttributeValueMemberL{Value: []types.AttributeValue{S("hong2")}},
			"status": S("WAITING"), "statusKey": S("apt001#WAITING"), "assignedAgent": null, "custId": S("c-1"),
			"createdAt": N("1"), "lastActivityAt": N("3"), "waitingKey": S("apt001"), "waitingSince": N("2"),
		}},
		{"user", tables.Users, map[string]types.AttributeValue{"companyId": S("apt001"), "userId": S("hong2")}, map[string]types.AttributeValue{
			"companyId": S("apt001"), "userId": S("hong2"), "passwordHash": S("$2a$10$x"), "createdAt": N("5"),
		}},
		{"connection", tables.Connections, map[string]types.AttributeValue{"connectionId": S("c1=")}, map[string]types.AttributeValue{
			"connectionId": S("c1="), "roomId": S("room-52d2b5b6"), "connectedAt": N("6"), "expiresAt": N("7"),
		}},
		{"message", tables.Messages, map[string]types.AttributeValue{"roomId": S("room-52d2b5b6"), "sk": S("1769145304307#m-1")}, map[string]types.AttributeValue{
			"roomId": S("room-52d2b5b6"), "sk": S("1769145304307#m-1"), "at": N("1769145304307"), "messageId": S("m-1"),
			"role": S("user"), "text": S("관리비?"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tt.table), Key: tt.key, ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := plain(out.Item), plain(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("stored\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// plain is an item as comparable Go values.
func plain(m map[string]types.AttributeValue) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberL:
		l := []any{}
		for _, e := range v.Value {
			l = append(l, plainValue(e))
		}
		return l
	default:
		return v
	}
}
