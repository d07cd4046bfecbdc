package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The store keeps the counters of the abuse limits; the limits themselves
// (how many, how long) are the policy of the code that decides and are
// passed in. Every counter is one item changed by conditional single-item
// writes, so that concurrent requests never both take the last slot; none
// relies on TTL deletion (expiresAt only lets DynamoDB clean up).

// Window is a fixed-window limit: at most Max slots per Window, the window
// opening at the first take after the previous one closed.
type Window struct {
	Max    int
	Window time.Duration
}

// Slot is the outcome of taking a slot of a window counter.
type Slot struct {
	Taken   bool      // a slot was free and is now held
	ResetAt time.Time // when the current window closes (and its slots are free again)
}

// window is what a counter item holds.
type window struct {
	Slots int64 `dynamodbav:"failures"`    // slots taken in the window
	Start int64 `dynamodbav:"windowStart"` // epoch ms the window opened
}

// counterTable is a table holding window counters under attrAttemptKey.
type counterTable func(t Tables) string

func loginAttempts(t Tables) string { return t.LoginAttempts }

// LoginUserKey is the login counter key of a user, whether or not the user
// exists.
func LoginUserKey(companyID, userID string) string { return "u#" + companyID + "#" + userID }

// LoginSourceKey is the login counter key of a source (an IP address or
// network, as the caller names it).
func LoginSourceKey(source string) string { return "ip#" + source }

// TakeLoginSlot takes a slot of the login counter key (LoginUserKey,
// LoginSourceKey) in the LoginAttempts table.
func (s *Store) TakeLoginSlot(ctx context.Context, key string, lim Window, now time.Time) (Slot, error) {
	sl, err := s.takeSlot(ctx, loginAttempts, key, lim, now)
	if err != nil {
		return Slot{}, fmt.Errorf("take login slot of %s: %w", key, err)
	}
	return sl, nil
}

// FreeLoginSlot gives back one slot of key taken by TakeLoginSlot (the
// attempt turned out not to be a failure). Freeing where no slot is held
// changes nothing.
func (s *Store) FreeLoginSlot(ctx context.Context, key string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.LoginAttempts),
		Key:                       item{attrAttemptKey: avS(key)},
		UpdateExpression:          aws.String("ADD #n :minus"),
		ConditionExpression:       aws.String("#n > :zero"),
		ExpressionAttributeNames:  map[string]string{"#n": attrFailures},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": avN(-1), ":zero": avN(0)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("free login slot of %s: %w", key, err)
	}
	return nil
}

// ClearLoginSlots forgets every slot of key (a successful login forgets
// the user's failures). Clearing a key that holds nothing succeeds.
func (s *Store) ClearLoginSlots(ctx context.Context, key string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.t.LoginAttempts),
		Key:       item{attrAttemptKey: avS(key)},
	})
	if err != nil {
		return fmt.Errorf("clear login slots of %s: %w", key, err)
	}
	return nil
}

// takeSlot takes one slot of the window counter key of table: it adds one
// to the open window's count if that is below lim.Max, or opens a new
// window when none is open. At most three conditional writes (the second
// and third only when a window closed or another request opened one
// meanwhile) and, when no slot is free, one read for the window's end.
func (s *Store) takeSlot(ctx context.Context, table counterTable, key string, lim Window, now time.Time) (Slot, error) {
	if lim.Max <= 0 || lim.Window <= 0 {
		return Slot{}, fmt.Errorf("window limit %+v must be positive", lim)
	}
	name := aws.String(table(s.t))
	k := item{attrAttemptKey: avS(key)}
	floor := avN(now.Add(-lim.Window).UnixMilli())
	expires := avN(now.Add(lim.Window).Unix() + 1)
	for attempt := range 2 {
		out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 name,
			Key:                       k,
			UpdateExpression:          aws.String("ADD #n :one"),
			ConditionExpression:       aws.String("#w > :floor AND #n < :max"),
			ExpressionAttributeNames:  map[string]string{"#n": attrFailures, "#w": attrWindowStart},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1), ":floor": floor, ":max": avN(int64(lim.Max))},
			ReturnValues:              types.ReturnValueAllNew,
		})
		if err == nil {
			w, err := unmarshal[window](out.Attributes)
			return Slot{Taken: true, ResetAt: time.UnixMilli(w.Start).Add(lim.Window)}, err
		}
		if !isConditionFailed(err) {
			return Slot{}, err
		}
		if attempt == 1 {
			break // the window another request opened is full
		}
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           name,
			Key:                 k,
			UpdateExpression:    aws.String("SET #n = :one, #w = :now, #e = :exp"),
			ConditionExpression: aws.String("attribute_not_exists(#k) OR #w <= :floor"),
			ExpressionAttributeNames: map[string]string{
				"#n": attrFailures, "#w": attrWindowStart, "#e": attrExpiresAt, "#k": attrAttemptKey,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": avN(1), ":now": avN(now.UnixMilli()), ":exp": expires, ":floor": floor,
			},
		})
		if err == nil {
			return Slot{Taken: true, ResetAt: now.Add(lim.Window)}, nil
		}
		if !isConditionFailed(err) {
			return Slot{}, err
		}
		// A window is open: full, or just opened by another request.
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                name,
		Key:                      k,
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#w"),
		ExpressionAttributeNames: map[string]string{"#w": attrWindowStart},
	})
	if err != nil {
		return Slot{}, err
	}
	w, err := unmarshal[window](out.Item)
	return Slot{ResetAt: time.UnixMilli(w.Start).Add(lim.Window)}, err
}

// slotCount returns the slots of key held in table's current window as
// stored, ignoring whether the window is still open (tests and the bench).
func (s *Store) slotCount(ctx context.Context, table counterTable, key string) (int, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table(s.t)), Key: item{attrAttemptKey: avS(key)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, err
	}
	w, err := unmarshal[window](out.Item)
	return int(w.Slots), err
}

// LoginSlots returns the slots held under the login counter key, as stored.
func (s *Store) LoginSlots(ctx context.Context, key string) (int, error) {
	n, err := s.slotCount(ctx, loginAttempts, key)
	if err != nil {
		return 0, fmt.Errorf("login slots of %s: %w", key, err)
	}
	return n, nil
}
