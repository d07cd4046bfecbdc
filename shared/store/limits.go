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

// counter names a table holding window counters and its key attribute.
type counter struct{ table, key string }

func (s *Store) loginAttempts() counter { return counter{s.t.LoginAttempts, attrAttemptKey} }
func (s *Store) limits() counter        { return counter{s.t.Limits, attrLimitKey} }

// LoginUserKey is the login counter key of a user, whether or not the user
// exists.
func LoginUserKey(companyID, userID string) string { return "u#" + companyID + "#" + userID }

// LoginSourceKey is the login counter key of a source (an IP address or
// network, as the caller names it).
func LoginSourceKey(source string) string { return "ip#" + source }

// TakeLoginSlot takes a slot of the login counter key (LoginUserKey,
// LoginSourceKey) in the LoginAttempts table.
func (s *Store) TakeLoginSlot(ctx context.Context, key string, lim Window, now time.Time) (Slot, error) {
	sl, err := s.takeSlot(ctx, s.loginAttempts(), key, lim, now)
	if err != nil {
		return Slot{}, fmt.Errorf("take login slot of %s: %w", key, err)
	}
	return sl, nil
}

// FreeLoginSlot gives back one slot of key taken by TakeLoginSlot (the
// attempt turned out not to be a failure). Freeing where no slot is held
// changes nothing.
func (s *Store) FreeLoginSlot(ctx context.Context, key string) error {
	_, _, err := s.write(ctx, itemWrite{
		table:  s.t.LoginAttempts,
		key:    item{attrAttemptKey: avS(key)},
		update: "ADD #n :minus",
		cond:   "#n > :zero",
		names:  map[string]string{"#n": attrFailures},
		values: map[string]types.AttributeValue{":minus": avN(-1), ":zero": avN(0)},
	})
	if err != nil {
		return fmt.Errorf("free login slot of %s: %w", key, err)
	}
	return nil
}

// ClearLoginSlots forgets every slot of key (a successful login forgets
// the user's failures). Clearing a key that holds nothing succeeds.
func (s *Store) ClearLoginSlots(ctx context.Context, key string) error {
	if _, _, err := s.write(ctx, itemWrite{table: s.t.LoginAttempts, key: item{attrAttemptKey: avS(key)}}); err != nil {
		return fmt.Errorf("clear login slots of %s: %w", key, err)
	}
	return nil
}

// takeSlot takes one slot of the window counter key of table: it adds one
// to the open window's count if that is below lim.Max, or opens a new
// window when none is open. At most three conditional writes (the second
// and third only when a window closed or another request opened one
// meanwhile) and, when no slot is free, one read for the window's end.
func (s *Store) takeSlot(ctx context.Context, c counter, key string, lim Window, now time.Time) (Slot, error) {
	if lim.Max <= 0 || lim.Window <= 0 {
		return Slot{}, fmt.Errorf("window limit %+v must be positive", lim)
	}
	k := item{c.key: avS(key)}
	floor := avN(now.Add(-lim.Window).UnixMilli())
	expires := avN(now.Add(lim.Window).Unix() + 1)
	for attempt := range 2 {
		after, taken, err := s.write(ctx, itemWrite{
			table:     c.table,
			key:       k,
			update:    "ADD #n :one",
			cond:      "#w > :floor AND #n < :max",
			names:     map[string]string{"#n": attrFailures, "#w": attrWindowStart},
			values:    map[string]types.AttributeValue{":one": avN(1), ":floor": floor, ":max": avN(int64(lim.Max))},
			returnNew: true,
		})
		if err != nil {
			return Slot{}, err
		}
		if taken {
			w, err := unmarshal[window](after)
			return Slot{Taken: true, ResetAt: time.UnixMilli(w.Start).Add(lim.Window)}, err
		}
		if attempt == 1 {
			break // the window another request opened is full
		}
		_, opened, err := s.write(ctx, itemWrite{
			table:  c.table,
			key:    k,
			update: "SET #n = :one, #w = :now, #e = :exp",
			cond:   "attribute_not_exists(#k) OR #w <= :floor",
			names:  map[string]string{"#n": attrFailures, "#w": attrWindowStart, "#e": attrExpiresAt, "#k": c.key},
			values: map[string]types.AttributeValue{":one": avN(1), ":now": avN(now.UnixMilli()), ":exp": expires, ":floor": floor},
		})
		if err != nil {
			return Slot{}, err
		}
		if opened {
			return Slot{Taken: true, ResetAt: now.Add(lim.Window)}, nil
		}
		// A window is open: full, or just opened by another request.
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(c.table),
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
func (s *Store) slotCount(ctx context.Context, c counter, key string) (int, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(c.table), Key: item{c.key: avS(key)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, err
	}
	w, err := unmarshal[window](out.Item)
	return int(w.Slots), err
}

// LoginSlots returns the slots held under the login counter key, as stored.
func (s *Store) LoginSlots(ctx context.Context, key string) (int, error) {
	n, err := s.slotCount(ctx, s.loginAttempts(), key)
	if err != nil {
		return 0, fmt.Errorf("login slots of %s: %w", key, err)
	}
	return n, nil
}

// TakeRoomSlot takes a slot of the room-creation window of the user
// companyID/userID in the Limits table. Slots are never given back: the
// window counts rooms created.
func (s *Store) TakeRoomSlot(ctx context.Context, companyID, userID string, lim Window, now time.Time) (Slot, error) {
	key := "rooms#" + companyID + "#" + userID
	sl, err := s.takeSlot(ctx, s.limits(), key, lim, now)
	if err != nil {
		return Slot{}, fmt.Errorf("take room slot of %s/%s: %w", companyID, userID, err)
	}
	return sl, nil
}

// Bucket is a token bucket: Burst tokens at most, one more every Refill.
// The bucket keeps time in milliseconds: a Refill under 1 ms counts as 1 ms
// (at most 60,000 tokens a minute).
type Bucket struct {
	Burst  int
	Refill time.Duration
}

// bucket is what a token bucket item holds.
type bucket struct {
	TAT int64 `dynamodbav:"tat"` // epoch ms
}

// TakeQuestionToken takes a token of the question bucket of the user
// companyID/userID in the Limits table. It reports whether one was there
// and, when not, when the next one comes.
//
// The bucket is kept as its theoretical arrival time (GCRA): tat, the
// time at which the bucket would be full again. A take at now is allowed
// when max(tat, now) + Refill - now <= Burst*Refill, and moves tat to
// max(tat, now) + Refill. DynamoDB cannot compute a max, so the two cases
// are two conditional updates: one that sets a stale (or absent) tat to
// now+Refill, and one that adds Refill to a tat that leaves room. One
// request when the bucket had refilled, two during a burst, three (a read
// for the time of the next token) when it is empty.
func (s *Store) TakeQuestionToken(ctx context.Context, companyID, userID string, b Bucket, now time.Time) (bool, time.Time, error) {
	if b.Burst <= 0 || b.Refill <= 0 {
		return false, time.Time{}, fmt.Errorf("bucket %+v must be positive", b)
	}
	key := item{attrLimitKey: avS("ask#" + companyID + "#" + userID)}
	nowMs, refill := now.UnixMilli(), max(b.Refill.Milliseconds(), 1)
	last := nowMs + int64(b.Burst-1)*refill // the latest tat that leaves a token
	expires := avN(now.Add(time.Duration(b.Burst)*b.Refill).Unix() + 1)
	names := map[string]string{"#t": attrTAT, "#e": attrExpiresAt}
	wrap := func(err error) error {
		return fmt.Errorf("take question token of %s/%s: %w", companyID, userID, err)
	}
	// A stale or absent tat first: the common case of a user who reads the
	// answer before asking again. If that fails, tat >= now, and it only
	// grows: adding is then the only way, and its failure means tat > last.
	for _, w := range []itemWrite{
		{update: "SET #t = :next, #e = :exp", cond: "attribute_not_exists(#t) OR #t < :now",
			values: map[string]types.AttributeValue{":next": avN(nowMs + refill), ":now": avN(nowMs), ":exp": expires}},
		{update: "SET #t = #t + :r, #e = :exp", cond: "#t <= :last",
			values: map[string]types.AttributeValue{":r": avN(refill), ":last": avN(last), ":exp": expires}},
	} {
		w.table, w.key, w.names = s.t.Limits, key, names
		_, taken, err := s.write(ctx, w)
		if err != nil {
			return false, time.Time{}, wrap(err)
		}
		if taken {
			return true, time.Time{}, nil
		}
	}
	// tat > last: the bucket is empty. One read says for how long.
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.t.Limits), Key: key, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#t"), ExpressionAttributeNames: map[string]string{"#t": attrTAT},
	})
	if err != nil {
		return false, time.Time{}, wrap(err)
	}
	bk, err := unmarshal[bucket](out.Item)
	if err != nil {
		return false, time.Time{}, wrap(err)
	}
	return false, time.UnixMilli(bk.TAT - int64(b.Burst-1)*refill), nil
}

// BeginAnswer takes the room's one answer slot for answerID until until
// (the deadline of the function that answers, after which a crashed answer
// frees the room by itself) and records the room's activity at now, in one
// conditional update: it applies only to a BOT room (a room without a
// status is one) whose slot is free or whose hold's until has passed.
// It returns the room as it is after the update, and true. When the
// update does not apply, the slot is left as it was and the room is read
// as TouchOpenRoom reads it (its activity recorded unless CLOSED): false,
// with the room whose status says why (not BOT: a handoff or a closed
// room; BOT: another answer holds it). ErrNotFound when the room does not
// exist.
func (s *Store) BeginAnswer(ctx context.Context, roomID, answerID string, until, now time.Time) (Room, bool, error) {
	after, begun, err := s.write(ctx, itemWrite{
		table:  s.t.Rooms,
		key:    item{attrRoomID: avS(roomID)},
		update: "SET #a = :id, #u = :until, #la = :at",
		cond:   "attribute_exists(#id) AND (attribute_not_exists(#st) OR #st = :bot) AND (attribute_not_exists(#u) OR #u <= :at)",
		names: map[string]string{
			"#a": attrAnsweringID, "#u": attrAnsweringUntil, "#id": attrRoomID, "#st": attrStatus, "#la": attrLastActivityAt,
		},
		values: map[string]types.AttributeValue{
			":id": avS(answerID), ":until": avN(until.UnixMilli()), ":at": avN(now.UnixMilli()), ":bot": avS(RoomStatusBot),
		},
		returnNew: true,
	})
	if err != nil {
		return Room{}, false, fmt.Errorf("begin answer %s in room %s: %w", answerID, roomID, err)
	}
	if !begun {
		r, err := s.TouchOpenRoom(ctx, roomID, now.UnixMilli())
		return r, false, err
	}
	r, err := readRoom(after)
	if err != nil {
		return Room{}, false, fmt.Errorf("begin answer %s in room %s: %w", answerID, roomID, err)
	}
	return r, true, nil
}

// EndAnswer frees the room of answerID (its until becomes 0). It changes
// nothing when another answer holds the room (this one's until had
// passed) or none does.
func (s *Store) EndAnswer(ctx context.Context, roomID, answerID string) error {
	_, _, err := s.write(ctx, itemWrite{
		table:  s.t.Rooms,
		key:    item{attrRoomID: avS(roomID)},
		update: "SET #u = :zero",
		cond:   "#a = :id",
		names:  map[string]string{"#a": attrAnsweringID, "#u": attrAnsweringUntil},
		values: map[string]types.AttributeValue{":id": avS(answerID), ":zero": avN(0)},
	})
	if err != nil {
		return fmt.Errorf("end answer %s in room %s: %w", answerID, roomID, err)
	}
	return nil
}
