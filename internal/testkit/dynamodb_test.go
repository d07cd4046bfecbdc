package testkit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/local/dynamo"
)

func TestDynamoDB_CreatesEveryTemplateTableUnderAFreshPrefix(t *testing.T) {
	t.Parallel()
	db, a := testkit.DynamoDB(t)
	_, b := testkit.DynamoDB(t)
	ctx := context.Background()
	namesA := []string{a.Users, a.Rooms, a.Connections, a.Messages, a.LoginAttempts}
	namesB := map[string]bool{b.Users: true, b.Rooms: true, b.Connections: true, b.Messages: true, b.LoginAttempts: true}
	for _, name := range namesA {
		if namesB[name] {
			t.Errorf("table %s handed out twice", name)
		}
		if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("describe %s: %v", name, err)
		}
	}
}

func TestDynamoDB_TablesAreIsolatedBetweenCalls(t *testing.T) {
	t.Parallel()
	db, a := testkit.DynamoDB(t)
	_, b := testkit.DynamoDB(t)
	ctx := context.Background()
	key := map[string]types.AttributeValue{"roomId": &types.AttributeValueMemberS{Value: "room-1"}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(a.Rooms), Item: key}); err != nil {
		t.Fatal(err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(b.Rooms), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item != nil {
		t.Fatal("an item written under one prefix is visible under another")
	}
}

func TestThrottle_FailsTheChosenTableOnly(t *testing.T) {
	t.Parallel()
	db, tables := testkit.DynamoDB(t, testkit.NoRetries)
	f := testkit.Throttle(t, "GetItem", tables.Connections, -1)
	ctx := context.Background()
	get := func(table, key string) error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key:       map[string]types.AttributeValue{key: &types.AttributeValueMemberS{Value: "x"}},
		})
		return err
	}
	var pte *types.ProvisionedThroughputExceededException
	if err := get(tables.Connections, "connectionId"); !errors.As(err, &pte) {
		t.Fatalf("connections get: got %v, want ProvisionedThroughputExceededException", err)
	}
	if err := get(tables.Rooms, "roomId"); err != nil {
		t.Fatalf("rooms get: %v", err)
	}
	if f.Hits() != 1 {
		t.Fatalf("hits = %d, want 1", f.Hits())
	}
}

func TestCounter_CountsOnlyThisTestsTables(t *testing.T) {
	t.Parallel()
	db, tables := testkit.DynamoDB(t)
	_, other := testkit.DynamoDB(t)
	c := testkit.NewCounter(t, tables)
	ctx := context.Background()
	for _, table := range []string{tables.Rooms, tables.Rooms, other.Rooms} {
		if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key:       map[string]types.AttributeValue{"roomId": &types.AttributeValueMemberS{Value: "x"}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	got := c.Counts()
	if got.Total() != 2 || got[dynamo.Call{Operation: "GetItem", Table: tables.Rooms}] != 2 {
		t.Fatalf("counts = %v, want 2 GetItem on %s", got, tables.Rooms)
	}
	c.Reset()
	if got := c.Counts().Total(); got != 0 {
		t.Fatalf("after Reset: %d requests, want 0", got)
	}
}
