package store_test

import (
	"context"
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
