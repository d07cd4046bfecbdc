package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Socket slots: a room's socket cap (MAX_ROOM_CONNECTIONS) as one item per
// place, places 0..max-1, each taken by a conditional PutItem, so that of
// any number of handshakes at the same moment at most max hold a place
// (counting the room's connections through the byRoom index cannot do
// that: the index is eventually consistent).
//
// A slot lives in the Connections table under the key SocketSlotKey and has
// no roomId attribute, so the byRoom index never holds it and no reader of
// a room's connections sees it; real connection ids (API Gateway's) never
// contain '#'. The connection that holds a slot names it (Connection.Slot),
// and DeleteConnection gives it back. A slot carries its holder's
// expiresAt, the table's TTL attribute: a holder whose expiresAt has passed
// holds nothing (the slot is taken like a free one) and TTL deletes the
// item in time.

// SocketSlot is a place of a room's socket cap.
type SocketSlot struct {
	Key       string `dynamodbav:"connectionId"` // SocketSlotKey(roomID, n)
	Holder    string `dynamodbav:"holder"`       // the connectionId that holds it; "" for a free place
	TakenAt   int64  `dynamodbav:"takenAt"`      // epoch ms
	ExpiresAt int64  `dynamodbav:"expiresAt"`    // the holder's expiresAt, epoch s (TTL)
}

// Free reports whether the place holds nobody at now: no item, or its
// holder has expired.
func (sl SocketSlot) Free(now time.Time) bool {
	return sl.Holder == "" || sl.ExpiresAt <= now.Unix()
}

// SocketSlotKey is the Connections key of place n of room roomID.
func SocketSlotKey(roomID string, n int) string { return "slot#" + roomID + "#" + strconv.Itoa(n) }

// heldBy is the condition that connection id holds the slot written, and
// its names and values.
func heldBy(id string) (string, map[string]string, map[string]types.AttributeValue) {
	return "#h = :holder", map[string]string{"#h": attrHolder}, map[string]types.AttributeValue{":holder": avS(id)}
}

// TakeSocketSlot writes sl if its place is free at now (no item, or an
// expired holder) or already sl.Holder's; taken reports whether it was.
func (s *Store) TakeSocketSlot(ctx context.Context, sl SocketSlot, now time.Time) (bool, error) {
	_, taken, err := s.write(ctx, itemWrite{
		table: s.t.Connections, put: sl,
		cond:   "attribute_not_exists(#k) OR #e <= :now OR #h = :me",
		names:  map[string]string{"#k": attrConnectionID, "#e": attrExpiresAt, "#h": attrHolder},
		values: map[string]types.AttributeValue{":now": avN(now.Unix()), ":me": avS(sl.Holder)},
	})
	if err != nil {
		return false, fmt.Errorf("take socket slot %s: %w", sl.Key, err)
	}
	return taken, nil
}

// TakeOverSocketSlot writes sl over the place if old still holds it (old's
// socket is known to be gone); taken reports whether it did. Of two
// take-overs of the same holder one wins.
func (s *Store) TakeOverSocketSlot(ctx context.Context, sl SocketSlot, old string) (bool, error) {
	w := itemWrite{table: s.t.Connections, put: sl}
	w.cond, w.names, w.values = heldBy(old)
	_, taken, err := s.write(ctx, w)
	if err != nil {
		return false, fmt.Errorf("take over socket slot %s from %s: %w", sl.Key, old, err)
	}
	return taken, nil
}

// FreeSocketSlot deletes the slot key if holder holds it; otherwise (a
// free place, or another holder's) it changes nothing.
func (s *Store) FreeSocketSlot(ctx context.Context, key, holder string) error {
	w := itemWrite{table: s.t.Connections, key: item{attrConnectionID: avS(key)}}
	w.cond, w.names, w.values = heldBy(holder)
	if _, _, err := s.write(ctx, w); err != nil {
		return fmt.Errorf("free socket slot %s of %s: %w", key, holder, err)
	}
	return nil
}

// maxBatchGet is the most keys one BatchGetItem may ask for.
const maxBatchGet = 100

// unprocessedBackoff are the waits before a batch's unprocessed keys are
// asked again: 4 attempts within 350 ms.
var unprocessedBackoff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}

// SocketSlots returns places 0..max-1 of room roomID as stored (strongly
// consistent reads, one BatchGetItem per 100 places): element n is place
// n, with Key set and Holder "" when no item holds it. Expired holders are
// returned as stored (see SocketSlot.Free).
func (s *Store) SocketSlots(ctx context.Context, roomID string, max int) ([]SocketSlot, error) {
	slots := make([]SocketSlot, max)
	index := make(map[string]int, max)
	for n := range slots {
		slots[n].Key = SocketSlotKey(roomID, n)
		index[slots[n].Key] = n
	}
	for lo := 0; lo < max; lo += maxBatchGet {
		keys := make([]map[string]types.AttributeValue, 0, maxBatchGet)
		for n := lo; n < min(lo+maxBatchGet, max); n++ {
			keys = append(keys, item{attrConnectionID: avS(slots[n].Key)})
		}
		req := map[string]types.KeysAndAttributes{s.t.Connections: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		// Unprocessed keys (the table's capacity exceeded) are asked again,
		// a bounded number of times with backoff: the SDK retries errors,
		// and a batch with keys left unprocessed is no error to it.
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt == len(unprocessedBackoff)+1 {
				return nil, fmt.Errorf("socket slots of room %s: keys left unprocessed", roomID)
			}
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return nil, fmt.Errorf("socket slots of room %s: %w", roomID, ctx.Err())
				case <-time.After(unprocessedBackoff[attempt-1]):
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("socket slots of room %s: %w", roomID, err)
			}
			for _, m := range out.Responses[s.t.Connections] {
				sl, err := unmarshal[SocketSlot](m)
				if err != nil {
					return nil, fmt.Errorf("socket slots of room %s: %w", roomID, err)
				}
				if n, ok := index[sl.Key]; ok {
					slots[n] = sl
				}
			}
			req = out.UnprocessedKeys
		}
	}
	return slots, nil
}
