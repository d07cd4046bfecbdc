package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// SetClock makes s read the time from now (tests only).
func SetClock(s *Store, now func() time.Time) { s.now = now }

// FailureCount returns the failure counter of key as stored (tests only).
func FailureCount(ctx context.Context, s *Store, key string) (int64, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.t.LoginAttempts), Key: item{attrAttemptKey: avS(key)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, err
	}
	r := reader{item: out.Item}
	n := r.n(attrFailures)
	return n, r.err
}
