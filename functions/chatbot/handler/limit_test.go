package handler

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

func TestChatbot_21stRoomInAnHourGetsRoomLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	e.h.now = func() time.Time { return now }
	token := "Bearer " + testkit.Mint(t, testkit.Hong2, now)
	var wg sync.WaitGroup
	statuses := make(chan int, 30)
	for range 30 { // at once: the window is counted atomically
		wg.Go(func() { statuses <- e.call(t, request(token)).StatusCode })
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[200] != 20 || count[429] != 10 {
		t.Fatalf("30 room creations: %v, want 20 created and 10 refused", count)
	}
	resp := e.call(t, request(token))
	retry, _ := strconv.Atoi(resp.Headers["Retry-After"])
	if resp.StatusCode != 429 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeRoomLimit || retry < 3590 || retry > 3600 {
		t.Fatalf("another room: %d %v %s; want 429 ROOM_LIMIT with Retry-After about an hour", resp.StatusCode, resp.Headers, resp.Body)
	}
	// Another user is not affected; the hour over, hong2 creates again.
	kim := auth.Identity{UserID: "kim", CompanyID: "apt001", Role: store.UserRoleCustomer, Name: "김"}
	if resp := e.call(t, request("Bearer "+testkit.Mint(t, kim, now))); resp.StatusCode != 200 {
		t.Fatalf("kim: %d %s", resp.StatusCode, resp.Body)
	}
	now = now.Add(time.Hour)
	if resp := e.call(t, request("Bearer "+testkit.Mint(t, testkit.Hong2, now))); resp.StatusCode != 200 {
		t.Fatalf("an hour later: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestChatbot_OnlyCustomersCreateRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range []string{store.UserRoleAgent, "ADMIN", "customer", ""} {
		id := testkit.Hong2
		id.Role = role
		resp := e.call(t, request("Bearer "+testkit.Mint(t, id, time.Now())))
		if resp.StatusCode != 403 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeForbidden {
			t.Errorf("role %q: %d %s, want 403", role, resp.StatusCode, resp.Body)
		}
	}
}

func TestChatbot_ATokenOlderThanAPasswordResetIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := "Bearer " + testkit.Mint(t, testkit.Hong2, time.Now())
	if resp := e.call(t, request(token)); resp.StatusCode != 200 {
		t.Fatalf("before the reset: %d %s", resp.StatusCode, resp.Body)
	}
	u, err := e.Store.GetUser(context.Background(), "apt001", "hong2")
	if err != nil {
		t.Fatal(err)
	}
	u.TokenVersion++ // what a password reset does (internal/users)
	if err := e.Store.PutUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if resp := e.call(t, request(token)); resp.StatusCode != 401 || testkit.ErrorBody(t, resp.Body).Code != apigw.CodeUnauthorized {
		t.Fatalf("after the reset: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	fresh := testkit.Hong2
	fresh.Version = u.TokenVersion
	if resp := e.call(t, request("Bearer "+testkit.Mint(t, fresh, time.Now()))); resp.StatusCode != 200 {
		t.Fatalf("a token of the new version: %d %s", resp.StatusCode, resp.Body)
	}
}
