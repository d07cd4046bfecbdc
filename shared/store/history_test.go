package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/store"
)

func TestStore_HistoryPagesNewestFirstOldestFirstWithinAPage(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	var msgs []store.Message
	for i := range 7 {
		m := store.Message{RoomID: "room-1", At: int64(1000 + i*10), MessageID: fmt.Sprintf("m-%d", i), Role: store.RoleUser, Text: fmt.Sprint("질문 ", i)}
		if i%2 == 1 {
			m.Role, m.Outcome, m.ClientMessageID = store.RoleBot, store.OutcomeComplete, ""
		} else {
			m.UserName, m.ClientMessageID = "고객-275b", fmt.Sprintf("c-%d", i)
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, store.Message{RoomID: "room-1", At: 2000, MessageID: "m-x", Role: store.RoleBot, Outcome: "RAG_TIMEOUT"})
	for _, m := range append(msgs, store.Message{RoomID: "room-2", At: 1, MessageID: "m-o", Role: store.RoleUser, Text: "다른 방"}) {
		if err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// A repeat record shares the partition and never shows in a page.
	if _, claimed, err := s.ClaimRepeat(ctx, store.Repeat{RoomID: "room-1", ClientMessageID: "c-0", QuestionID: "m-0", AnswerID: "m-1", AnswerAt: 1010}); err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}

	var pages [][]store.Message
	cursor := ""
	for {
		page, err := s.History(ctx, "room-1", 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, page.Messages)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	want := [][]store.Message{msgs[5:8], msgs[2:5], msgs[0:2]}
	if !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages\n%+v\nwant\n%+v", pages, want)
	}
	if page, err := s.History(ctx, "room-1", 8, ""); err != nil || page.Next != "" || len(page.Messages) != 8 {
		t.Errorf("a page holding everything: %d messages, next %q, %v; want 8 and no cursor", len(page.Messages), page.Next, err)
	}
	if page, err := s.History(ctx, "room-none", 5, ""); err != nil || page.Messages == nil || len(page.Messages) != 0 {
		t.Errorf("empty room: %+v, %v; want an empty page", page, err)
	}
	if _, err := s.History(ctx, "room-1", 0, ""); err == nil {
		t.Error("limit 0 accepted")
	}
}

func TestStore_HistoryRefusesCursorsItDidNotHandOut(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	for i := range 3 {
		if err := s.PutMessage(ctx, store.Message{RoomID: "room-1", At: int64(i + 1), MessageID: fmt.Sprint("m-", i), Role: store.RoleUser, Text: "q"}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.History(ctx, "room-1", 1, "")
	if err != nil || page.Next == "" {
		t.Fatalf("%+v %v", page, err)
	}
	bad := []string{
		"x", "!!!!", "eyJyIjoicm9vbS0xIn0", // {"r":"room-1"}: no key
		"eyJyIjoicm9vbS0yIiwiayI6IjAwMDAwMDAwMDAwMDIjbS0xIn0",         // room-2's
		"eyJyIjoicm9vbS0xIiwiayI6InIjYy0xIn0",                         // a repeat record's key
		"eyJyIjoicm9vbS0xIiwiayI6IjAwMDAwMDAwMDAwMDIjbS0xIiwieCI6MX0", // an unknown field
		page.Next + "A", string(make([]byte, 600)),
	}
	for _, c := range bad {
		if _, err := s.History(ctx, "room-1", 1, c); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", c, err)
		}
	}
	if _, err := s.History(ctx, "room-2", 1, page.Next); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("room-1's cursor on room-2: %v, want ErrBadCursor", err)
	}
}

func TestStore_RoomsOfOwnerNewestFirstInPages(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	for i := range 5 {
		r := store.Room{RoomID: fmt.Sprintf("room-0000000%d", i), CompanyID: "apt001", UserID: "hong2", Status: store.RoomStatusBot, CreatedAt: int64(100 + i)}
		if err := s.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateRoom(ctx, store.Room{RoomID: "room-other00", CompanyID: "apt001", UserID: "kim", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	cursor, pages := "", 0
	for {
		page, err := s.RoomsOfOwner(ctx, "apt001", "hong2", 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Rooms {
			ids = append(ids, r.RoomID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	want := []string{"room-00000004", "room-00000003", "room-00000002", "room-00000001", "room-00000000"}
	if !reflect.DeepEqual(ids, want) || pages != 3 {
		t.Fatalf("rooms %v in %d pages, want %v in 3", ids, pages, want)
	}
	if _, err := s.RoomsOfOwner(ctx, "apt001", "kim", 2, cursor); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("hong2's cursor for kim: %v, want ErrBadCursor", err)
	}
}

func TestStore_ClaimRepeatOneWinnerAndTheRecordItHolds(t *testing.T) {
	s, _, now := newTestStore(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners, seen := 0, map[string]bool{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := store.Repeat{RoomID: "room-1", ClientMessageID: "c-7f3a", QuestionID: fmt.Sprint("m-q", i), AnswerID: fmt.Sprint("m-a", i), AnswerAt: 5, AskedAt: 4}
			got, claimed, err := s.ClaimRepeat(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			if claimed {
				winners++
			}
			seen[got.QuestionID] = true
		}()
	}
	wg.Wait()
	if winners != 1 || len(seen) != 1 {
		t.Fatalf("%d winners, records seen %v: want one winner whose record every loser sees", winners, seen)
	}
	var winner string
	for q := range seen {
		winner = q
	}
	old, claimed, err := s.ClaimRepeat(ctx, store.Repeat{RoomID: "room-1", ClientMessageID: "c-7f3a", QuestionID: "m-late"})
	if err != nil || claimed || old.QuestionID != winner || old.ExpiresAt != now.Add(store.RepeatTTL).Unix() {
		t.Fatalf("later claim: %+v %v %v", old, claimed, err)
	}
	// Another room, and the same room after 24 hours, claim afresh.
	if _, claimed, err := s.ClaimRepeat(ctx, store.Repeat{RoomID: "room-2", ClientMessageID: "c-7f3a", QuestionID: "m-2"}); err != nil || !claimed {
		t.Fatalf("other room: %v %v", claimed, err)
	}
	*now = now.Add(store.RepeatTTL + time.Second)
	if _, claimed, err := s.ClaimRepeat(ctx, store.Repeat{RoomID: "room-1", ClientMessageID: "c-7f3a", QuestionID: "m-new"}); err != nil || !claimed {
		t.Fatalf("after the TTL: %v %v, want claimed (expired records are ignored, TTL deletion or not)", claimed, err)
	}
}

func TestStore_ReleaseAndTakeOverRepeatOnlyTheirOwnRecord(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	r := store.Repeat{RoomID: "room-1", ClientMessageID: "c-1", QuestionID: "m-1"}
	if _, claimed, err := s.ClaimRepeat(ctx, r); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	if err := s.ReleaseRepeat(ctx, store.Repeat{RoomID: "room-1", ClientMessageID: "c-1", QuestionID: "m-other"}); err != nil {
		t.Fatal(err)
	}
	if _, claimed, _ := s.ClaimRepeat(ctx, store.Repeat{RoomID: "room-1", ClientMessageID: "c-1", QuestionID: "m-2"}); claimed {
		t.Fatal("a release by another question removed the record")
	}
	next := store.Repeat{RoomID: "room-1", ClientMessageID: "c-1", QuestionID: "m-3"}
	if ok, err := s.TakeOverRepeat(ctx, next, store.Repeat{QuestionID: "m-wrong"}); err != nil || ok {
		t.Fatalf("take over with a wrong old record: %v %v", ok, err)
	}
	if ok, err := s.TakeOverRepeat(ctx, next, r); err != nil || !ok {
		t.Fatalf("take over: %v %v", ok, err)
	}
	if ok, _ := s.TakeOverRepeat(ctx, store.Repeat{RoomID: "room-1", ClientMessageID: "c-1", QuestionID: "m-4"}, r); ok {
		t.Fatal("a second take-over of the same record won too")
	}
	if err := s.ReleaseRepeat(ctx, next); err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := s.ClaimRepeat(ctx, store.Repeat{RoomID: "room-1", ClientMessageID: "c-1", QuestionID: "m-5"}); err != nil || !claimed {
		t.Fatalf("after release: %v %v", claimed, err)
	}
}

func TestStore_GetMessage(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	m := store.Message{RoomID: "room-1", At: 7, MessageID: "m-1", Role: store.RoleBot, Text: "부분", Outcome: store.OutcomeStreaming}
	if err := s.PutMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetMessage(ctx, "room-1", 7, "m-1"); err != nil || got != m {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := s.GetMessage(ctx, "room-1", 8, "m-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%v, want ErrNotFound", err)
	}
}

func TestStore_TouchOpenRoomReadsTheRoomAndRecordsItsActivityUnlessClosed(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	for _, r := range []store.Room{
		{RoomID: "room-open0000", CompanyID: "apt001", UserID: "hong2", Status: store.RoomStatusBot, CreatedAt: 1, LastActivityAt: 1},
		{RoomID: "room-closed00", CompanyID: "apt001", UserID: "hong2", Status: store.RoomStatusClosed, CreatedAt: 1, LastActivityAt: 1},
	} {
		if err := s.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := s.TouchOpenRoom(ctx, "room-open0000", 50); err != nil || r.Status != store.RoomStatusBot || r.LastActivityAt != 50 || r.UserID != "hong2" {
		t.Errorf("open room: %+v, %v; want it read with lastActivityAt 50", r, err)
	}
	if r, err := s.TouchOpenRoom(ctx, "room-closed00", 50); err != nil || r.Status != store.RoomStatusClosed || r.LastActivityAt != 1 {
		t.Errorf("closed room: %+v, %v; want it read unchanged", r, err)
	}
	if _, err := s.TouchOpenRoom(ctx, "room-missing0", 50); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing room: %v, want ErrNotFound", err)
	}
}
