package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/store"
)

func TestStore_LoginSlotsFollowTheWindow(t *testing.T) {
	lim := store.Window{Max: 3, Window: 15 * time.Minute}
	type step struct {
		at     time.Duration // after t0
		action string        // "take", "free" or "clear"
		taken  bool          // for "take"
		reset  time.Duration // for "take": ResetAt after t0
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"max slots per window, then refused until the window closes", []step{
			{0, "take", true, 15 * time.Minute}, {time.Minute, "take", true, 15 * time.Minute},
			{14 * time.Minute, "take", true, 15 * time.Minute}, {14 * time.Minute, "take", false, 15 * time.Minute},
			{15*time.Minute - time.Millisecond, "take", false, 15 * time.Minute},
			{15 * time.Minute, "take", true, 30 * time.Minute},
		}},
		{"a freed slot can be taken again", []step{
			{0, "take", true, 15 * time.Minute}, {0, "take", true, 15 * time.Minute}, {0, "take", true, 15 * time.Minute},
			{time.Minute, "free", false, 0}, {time.Minute, "take", true, 15 * time.Minute},
			{time.Minute, "take", false, 15 * time.Minute},
		}},
		{"clearing forgets the window", []step{
			{0, "take", true, 15 * time.Minute}, {0, "take", true, 15 * time.Minute}, {0, "take", true, 15 * time.Minute},
			{time.Minute, "clear", false, 0}, {time.Minute, "take", true, 16 * time.Minute},
		}},
		{"freeing and clearing an unknown key change nothing", []step{
			{0, "free", false, 0}, {0, "clear", false, 0}, {0, "take", true, 15 * time.Minute},
		}},
	}
	s, _, _ := newTestStore(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			key := store.LoginUserKey("apt001", fmt.Sprintf("user%d", i))
			for j, st := range c.steps {
				var err error
				switch st.action {
				case "take":
					var sl store.Slot
					sl, err = s.TakeLoginSlot(ctx, key, lim, t0.Add(st.at))
					if err == nil && (sl.Taken != st.taken || !sl.ResetAt.Equal(t0.Add(st.reset))) {
						t.Fatalf("step %d: take at +%v = %+v; want taken %v, reset at +%v", j, st.at, sl, st.taken, st.reset)
					}
				case "free":
					err = s.FreeLoginSlot(ctx, key)
				case "clear":
					err = s.ClearLoginSlots(ctx, key)
				}
				if err != nil {
					t.Fatalf("step %d: %v", j, err)
				}
			}
		})
	}
}

func TestStore_ConcurrentTakesNeverExceedTheWindow(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	key := store.LoginSourceKey("192.0.2.7")
	lim := store.Window{Max: 5, Window: time.Minute}
	var taken atomic.Int32
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			sl, err := s.TakeLoginSlot(ctx, key, lim, t0)
			if err != nil {
				t.Error(err)
			}
			if sl.Taken {
				taken.Add(1)
			}
		})
	}
	wg.Wait()
	if n := taken.Load(); n != 5 {
		t.Fatalf("%d of 30 concurrent takes got a slot, want 5", n)
	}
	if n, err := s.LoginSlots(ctx, key); n != 5 || err != nil {
		t.Fatalf("stored slots = %d, %v; want 5", n, err)
	}
}

func TestStore_OneAnswerInFlightPerRoom(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	if err := s.CreateRoom(ctx, store.Room{RoomID: "room-1", CompanyID: "a", UserID: "u", Members: []string{}}); err != nil {
		t.Fatal(err)
	}
	until := t0.Add(time.Minute)
	begin := func(answerID string, until, now time.Time) (bool, error) {
		r, ok, err := s.BeginAnswer(ctx, "room-1", answerID, until, now)
		if err == nil && r.LastActivityAt != now.UnixMilli() {
			return ok, fmt.Errorf("the room's activity is %d, want %d (the write's or the read's)", r.LastActivityAt, now.UnixMilli())
		}
		return ok, err
	}
	steps := []struct {
		name string
		do   func() (bool, error)
		want bool
	}{
		{"the first answer takes the room", func() (bool, error) { return begin("m-1", until, t0) }, true},
		{"a second is refused", func() (bool, error) { return begin("m-2", until, t0.Add(time.Second)) }, false},
		{"another answer's end frees nothing", func() (bool, error) { return true, s.EndAnswer(ctx, "room-1", "m-2") }, true},
		{"so the second is still refused", func() (bool, error) { return begin("m-2", until, t0.Add(time.Second)) }, false},
		{"the first's end frees the room", func() (bool, error) { return true, s.EndAnswer(ctx, "room-1", "m-1") }, true},
		{"then the second takes it", func() (bool, error) { return begin("m-2", until, t0.Add(2*time.Second)) }, true},
		{"a hold past its until is taken over", func() (bool, error) { return begin("m-3", until.Add(time.Minute), until) }, true},
		{"the overtaken answer's end leaves the new hold", func() (bool, error) { return true, s.EndAnswer(ctx, "room-1", "m-2") }, true},
		{"which still holds", func() (bool, error) { return begin("m-4", until, until.Add(time.Second)) }, false},
	}
	for _, st := range steps {
		if got, err := st.do(); got != st.want || err != nil {
			t.Fatalf("%s: %v, %v; want %v", st.name, got, err, st.want)
		}
	}
	if _, _, err := s.BeginAnswer(ctx, "room-none", "m-1", until, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown room: %v, want ErrNotFound", err)
	}
	// The room's other attributes are untouched.
	if r, err := s.GetRoom(ctx, "room-1"); err != nil || r.UserID != "u" || r.Status != "" {
		t.Fatalf("room after the answers: %+v, %v", r, err)
	}
}

func TestStore_AnAnswerBeginsOnlyInABotRoom(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	if err := s.CreateRoom(ctx, store.Room{RoomID: "room-1", CompanyID: "a", UserID: "u", Status: store.RoomStatusBot, Members: []string{}}); err != nil {
		t.Fatal(err)
	}
	until := t0.Add(time.Minute)
	if _, _, err := s.RequestHandoff(ctx, "a", "room-1", t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	// WAITING: not begun, the room read as it is (its activity recorded).
	r, ok, err := s.BeginAnswer(ctx, "room-1", "m-1", until, t0.Add(time.Second))
	if err != nil || ok || r.Status != store.RoomStatusWaiting || r.LastActivityAt != t0.Add(time.Second).UnixMilli() {
		t.Fatalf("in a WAITING room: %+v, %v, %v; want the room, not begun", r, ok, err)
	}
	if _, _, err := s.ClaimRoom(ctx, "a", "room-1", store.Agent{UserID: "agent1", Name: "Kim"}, t0.Add(2*time.Second).UnixMilli()); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if r, ok, err := s.BeginAnswer(ctx, "room-1", "m-1", until, t0.Add(2*time.Second)); err != nil || ok || r.Status != store.RoomStatusAgent {
		t.Fatalf("in an AGENT room: %+v, %v, %v; want the room, not begun", r, ok, err)
	}
	if _, err := s.ReleaseRoom(ctx, "a", "room-1", "agent1", t0.Add(2*time.Second).UnixMilli()); err != nil {
		t.Fatalf("release: %v", err)
	}
	// The refusal left no hold: back in BOT, the first answer takes the room.
	if r, ok, err := s.BeginAnswer(ctx, "room-1", "m-2", until, t0.Add(3*time.Second)); err != nil || !ok || r.Status != store.RoomStatusBot {
		t.Fatalf("back in BOT: %+v, %v, %v; want begun", r, ok, err)
	}
}

func TestStore_QuestionBucket(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	b := store.Bucket{Burst: 3, Refill: 10 * time.Second}
	take := func(at time.Duration) (bool, time.Duration) {
		t.Helper()
		ok, next, err := s.TakeQuestionToken(ctx, "apt001", "hong2", b, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return true, 0
		}
		return false, next.Sub(t0)
	}
	for i := range 3 {
		if ok, _ := take(0); !ok {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	if ok, next := take(time.Second); ok || next != 10*time.Second {
		t.Fatalf("past the burst: %v, next token at +%v; want refused until +10s", ok, next)
	}
	if ok, _ := take(10 * time.Second); !ok {
		t.Fatal("the refilled token was refused")
	}
	if ok, _ := take(10 * time.Second); ok {
		t.Fatal("a second token after one refill")
	}
	// Idle for long: a full bucket again, and no more.
	for i := range 3 {
		if ok, _ := take(time.Hour); !ok {
			t.Fatalf("after an hour, take %d refused", i+1)
		}
	}
	if ok, _ := take(time.Hour); ok {
		t.Fatal("more than the burst after an hour")
	}
	// Another user has a bucket of their own.
	if ok, _, err := s.TakeQuestionToken(ctx, "apt001", "kim", b, t0.Add(time.Hour)); !ok || err != nil {
		t.Fatalf("kim: %v %v", ok, err)
	}
}

// A refill under a millisecond (QUESTIONS_PER_MINUTE above 60,000) counts
// as one millisecond: the burst is still there, not a bucket of one.
func TestStore_QuestionBucketWithASubMillisecondRefillKeepsItsBurst(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	b := store.Bucket{Burst: 50, Refill: time.Minute / 1_000_000}
	for i := range 50 {
		ok, _, err := s.TakeQuestionToken(ctx, "apt001", "hong2", b, t0)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("take %d of a burst of 50 refused", i+1)
		}
	}
	if ok, _, _ := s.TakeQuestionToken(ctx, "apt001", "hong2", b, t0); ok {
		t.Fatal("a 51st token at the same millisecond")
	}
}

func TestStore_ConcurrentQuestionsTakeAtMostTheBurst(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	b := store.Bucket{Burst: 30, Refill: 6 * time.Second}
	var taken atomic.Int32
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			ok, _, err := s.TakeQuestionToken(ctx, "apt001", "hong2", b, t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				taken.Add(1)
			}
		})
	}
	wg.Wait()
	if n := taken.Load(); n != 30 {
		t.Fatalf("%d of 60 concurrent questions got a token, want 30", n)
	}
}

func TestStore_RoomCreationWindow(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	w := store.Window{Max: 20, Window: time.Hour}
	for i := range 20 {
		if sl, err := s.TakeRoomSlot(ctx, "apt001", "hong2", w, t0.Add(time.Duration(i)*time.Minute)); !sl.Taken || err != nil {
			t.Fatalf("room %d: %+v %v", i+1, sl, err)
		}
	}
	if sl, err := s.TakeRoomSlot(ctx, "apt001", "hong2", w, t0.Add(59*time.Minute)); sl.Taken || err != nil || !sl.ResetAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("room 21: %+v %v; want refused until +1h", sl, err)
	}
	if sl, err := s.TakeRoomSlot(ctx, "apt001", "hong2", w, t0.Add(time.Hour)); !sl.Taken || err != nil {
		t.Fatalf("after the hour: %+v %v", sl, err)
	}
}
