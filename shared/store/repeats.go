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

// RepeatTTL is how long a room remembers a clientMessageId.
const RepeatTTL = 24 * time.Hour

// Repeat records a question asked with a clientMessageId, so that the same
// id sent again (a client resending after a reconnect) asks nothing
// again. It lives in the room's Messages partition under the sort key
// "r#" + ClientMessageID, above every message's key (history.go), so no
// history page holds it; it expires ExpiresAt (the table's TTL attribute)
// and is read as absent from then on, whether or not TTL deleted it.
type Repeat struct {
	RoomID          string `dynamodbav:"roomId"`
	ClientMessageID string `dynamodbav:"clientMessageId"`
	QuestionID      string `dynamodbav:"questionId"`
	AnswerID        string `dynamodbav:"answerId"`
	AnswerAt        int64  `dynamodbav:"answerAt"`  // the answer's time in its sort key (epoch ms)
	AskedAt         int64  `dynamodbav:"askedAt"`   // epoch ms
	ExpiresAt       int64  `dynamodbav:"expiresAt"` // epoch s; set by ClaimRepeat
}

// repeatRecord is a Repeat as stored: with its sort key.
type repeatRecord struct {
	Repeat
	SK string `dynamodbav:"sk"`
}

func repeatSK(clientMessageID string) string { return "r#" + clientMessageID }

// ClaimRepeat records r unless the room holds a live record of the same
// clientMessageId: one conditional PutItem decides, so of two claims at
// the same moment exactly one wins. claimed reports whether r was written
// (with ExpiresAt now+RepeatTTL); when it was not, the live record is
// returned.
func (s *Store) ClaimRepeat(ctx context.Context, r Repeat) (existing Repeat, claimed bool, err error) {
	now := s.now()
	r.ExpiresAt = now.Add(RepeatTTL).Unix()
	err = s.putItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.t.Messages),
		ConditionExpression:                 aws.String("attribute_not_exists(#sk) OR #e <= :now"),
		ExpressionAttributeNames:            map[string]string{"#sk": attrSK, "#e": attrExpiresAt},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": avN(now.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, repeatRecord{Repeat: r, SK: repeatSK(r.ClientMessageID)})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return r, true, nil
	case !errors.As(err, &ccf):
		return Repeat{}, false, fmt.Errorf("claim repeat %s in room %s: %w", r.ClientMessageID, r.RoomID, err)
	case ccf.Item != nil:
		existing, err = unmarshal[Repeat](ccf.Item)
	default: // a server that does not return the item (older emulators)
		existing, err = getItem(ctx, s, s.t.Messages, item{attrRoomID: avS(r.RoomID), attrSK: avS(repeatSK(r.ClientMessageID))}, unmarshal[Repeat])
	}
	if err != nil {
		return Repeat{}, false, fmt.Errorf("claim repeat %s in room %s: %w", r.ClientMessageID, r.RoomID, err)
	}
	return existing, false, nil
}

// TakeOverRepeat replaces old, a record whose question was never answered
// (its function died before the answer's first frame), with r: a
// conditional PutItem on old's question id, so of two take-overs one
// wins. claimed reports whether r was written.
func (s *Store) TakeOverRepeat(ctx context.Context, r, old Repeat) (bool, error) {
	r.ExpiresAt = s.now().Add(RepeatTTL).Unix()
	_, claimed, err := s.write(ctx, itemWrite{
		table: s.t.Messages, put: repeatRecord{Repeat: r, SK: repeatSK(r.ClientMessageID)},
		cond:   "#q = :q",
		names:  map[string]string{"#q": attrQuestionID},
		values: map[string]types.AttributeValue{":q": avS(old.QuestionID)},
	})
	if err != nil {
		return false, fmt.Errorf("take over repeat %s in room %s: %w", r.ClientMessageID, r.RoomID, err)
	}
	return claimed, nil
}

// ReleaseRepeat deletes r's record if it is still r's (same question id),
// for a question refused after its claim: the id may then be sent again.
func (s *Store) ReleaseRepeat(ctx context.Context, r Repeat) error {
	_, _, err := s.write(ctx, itemWrite{
		table:  s.t.Messages,
		key:    item{attrRoomID: avS(r.RoomID), attrSK: avS(repeatSK(r.ClientMessageID))},
		cond:   "#q = :q",
		names:  map[string]string{"#q": attrQuestionID},
		values: map[string]types.AttributeValue{":q": avS(r.QuestionID)},
	})
	if err != nil {
		return fmt.Errorf("release repeat %s in room %s: %w", r.ClientMessageID, r.RoomID, err)
	}
	return nil
}
