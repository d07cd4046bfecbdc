package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Login throttling (issue 5): MaxLoginFailures failures for one key within
// LoginWindow lock the key for LoginCooldown. The counter lives in the
// LoginAttempts table, so it holds across Lambda instances, and it is kept
// for any key, whether or not such a user exists.
const (
	MaxLoginFailures = 5
	LoginWindow      = 15 * time.Minute
	LoginCooldown    = 15 * time.Minute
)

// LoginAttemptKey is the LoginAttempts key of a user: companyId#userId.
func LoginAttemptKey(companyID, userID string) string { return companyID + "#" + userID }

// LoginState is what the LoginAttempts table holds for a key at a moment.
type LoginState struct {
	Locked   bool // a cooldown is running
	Failures int  // failures counted in the last window; 0 means nothing to clear
}

// LoginState reads the login throttle of key at now (one consistent read).
func (s *Store) LoginState(ctx context.Context, key string, now time.Time) (LoginState, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.t.LoginAttempts),
		Key:                      item{attrAttemptKey: avS(key)},
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#l, #f"),
		ExpressionAttributeNames: map[string]string{"#l": attrLockedUntil, "#f": attrFailures},
	})
	if err != nil {
		return LoginState{}, fmt.Errorf("login state of %s: %w", key, err)
	}
	r := reader{item: out.Item}
	st := LoginState{Locked: r.n(attrLockedUntil) > now.UnixMilli(), Failures: int(r.n(attrFailures))}
	if r.err != nil {
		return LoginState{}, fmt.Errorf("login state of %s: %w", key, r.err)
	}
	return st, nil
}

// errWindowRace means another attempt opened a window between our two
// conditional writes; recording is retried.
var errWindowRace = errors.New("login window opened concurrently")

// RecordLoginFailure counts a failed login for key at now: in the open
// window if one started within LoginWindow, else in a new window. When the
// count reaches MaxLoginFailures the key is locked until now+LoginCooldown.
// Concurrent failures are all counted (atomic ADD).
func (s *Store) RecordLoginFailure(ctx context.Context, key string, now time.Time) error {
	for range 3 {
		failures, err := s.countFailure(ctx, key, now)
		if errors.Is(err, errWindowRace) {
			continue
		}
		if err != nil {
			return fmt.Errorf("record login failure of %s: %w", key, err)
		}
		if failures >= MaxLoginFailures {
			if err := s.lock(ctx, key, now); err != nil {
				return fmt.Errorf("record login failure of %s: %w", key, err)
			}
		}
		return nil
	}
	return fmt.Errorf("record login failure of %s: %w", key, errWindowRace)
}

// countFailure adds one failure and returns the count in the window.
func (s *Store) countFailure(ctx context.Context, key string, now time.Time) (int64, error) {
	expires := avN(now.Add(LoginWindow + LoginCooldown).Unix())
	floor := avN(now.Add(-LoginWindow).UnixMilli())

	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.LoginAttempts),
		Key:                       item{attrAttemptKey: avS(key)},
		UpdateExpression:          aws.String("ADD #f :one SET #e = :exp"),
		ConditionExpression:       aws.String("#w > :floor"),
		ExpressionAttributeNames:  map[string]string{"#f": attrFailures, "#w": attrWindowStart, "#e": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1), ":exp": expires, ":floor": floor},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err == nil {
		v, ok := out.Attributes[attrFailures].(*types.AttributeValueMemberN)
		if !ok {
			return 0, fmt.Errorf("failure count missing from update result")
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	if !isConditionFailed(err) {
		return 0, err
	}
	// No window, or it has closed: open a new one, unless another attempt
	// just did.
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.t.LoginAttempts),
		Key:                 item{attrAttemptKey: avS(key)},
		UpdateExpression:    aws.String("SET #f = :one, #w = :now, #e = :exp"),
		ConditionExpression: aws.String("attribute_not_exists(#k) OR #w <= :floor"),
		ExpressionAttributeNames: map[string]string{
			"#f": attrFailures, "#w": attrWindowStart, "#e": attrExpiresAt, "#k": attrAttemptKey,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": avN(1), ":now": avN(now.UnixMilli()), ":exp": expires, ":floor": floor,
		},
	})
	switch {
	case isConditionFailed(err):
		return 0, errWindowRace
	case err != nil:
		return 0, err
	}
	return 1, nil
}

func (s *Store) lock(ctx context.Context, key string, now time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.t.LoginAttempts),
		Key:                      item{attrAttemptKey: avS(key)},
		UpdateExpression:         aws.String("SET #l = :until, #e = :exp"),
		ExpressionAttributeNames: map[string]string{"#l": attrLockedUntil, "#e": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": avN(now.Add(LoginCooldown).UnixMilli()),
			":exp":   avN(now.Add(LoginWindow + LoginCooldown).Unix()),
		},
	})
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// ClearLoginFailures forgets key's failures (after a successful login).
// Clearing a key without failures succeeds.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.t.LoginAttempts),
		Key:       item{attrAttemptKey: avS(key)},
	})
	if err != nil {
		return fmt.Errorf("clear login failures of %s: %w", key, err)
	}
	return nil
}
