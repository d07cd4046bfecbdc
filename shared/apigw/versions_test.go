package apigw

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// countedUsers counts the reads of each user of a users.
type countedUsers struct {
	users
	mu    sync.Mutex
	reads map[string]int
}

func (u *countedUsers) GetUser(ctx context.Context, companyID, userID string) (store.User, error) {
	u.mu.Lock()
	u.reads[companyID+"/"+userID]++
	u.mu.Unlock()
	return u.users.GetUser(ctx, companyID, userID)
}

func conn(id, user, role string, ver *int64) store.Connection {
	return store.Connection{ConnectionID: id, RoomID: "room-1", UserID: user, CompanyID: "apt001", Role: role, TokenVersion: ver}
}

func version(v int64) *int64 { return &v }

func TestVersions_RevokedSocketsAreThoseOlderThanTheirUsersReadOncePerUser(t *testing.T) {
	u := &countedUsers{users: users{byID: map[string]store.User{
		"apt001/hong2":  {CompanyID: "apt001", UserID: "hong2", Role: store.UserRoleCustomer, TokenVersion: 2},
		"apt001/agent1": {CompanyID: "apt001", UserID: "agent1", Role: store.UserRoleAgent, TokenVersion: 5},
		"apt001/agent2": {CompanyID: "apt001", UserID: "agent2", Role: store.UserRoleCustomer, TokenVersion: 1}, // no longer an agent
	}}, reads: map[string]int{}}
	asker := auth.Identity{UserID: "hong2", CompanyID: "apt001", Role: store.UserRoleCustomer, Version: 2}
	v := NewVersions(u, asker)
	conns := []store.Connection{
		conn("asker", "hong2", store.UserRoleCustomer, version(2)),
		conn("stolen", "hong2", store.UserRoleCustomer, version(1)),
		conn("unversioned", "hong2", store.UserRoleCustomer, nil), // stored before connections had versions
		conn("agent-now", "agent1", store.UserRoleAgent, version(5)),
		conn("agent-old", "agent1", store.UserRoleAgent, version(4)),
		conn("agent-other-role", "agent2", store.UserRoleAgent, version(1)),
		conn("gone-user", "left", store.UserRoleAgent, version(1)),
		conn("gone-unversioned", "left2", store.UserRoleAgent, nil),
	}
	want := map[string]bool{"stolen": true, "agent-old": true, "agent-other-role": true, "gone-user": true}
	for round := range 3 { // an answer's lookups: the users are read in the first only
		got, err := v.Revoked(context.Background(), conns)
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("round %d: Revoked = %v, %v; want %v", round, got, err, want)
		}
	}
	if wantReads := map[string]int{"apt001/agent1": 1, "apt001/agent2": 1, "apt001/left": 1}; !maps.Equal(u.reads, wantReads) {
		t.Fatalf("reads %v, want %v (the asker's user known, the unversioned never read)", u.reads, wantReads)
	}
}

func TestVersions_AUserThatCannotBeReadKeepsTheirSocketsAndIsReadAgain(t *testing.T) {
	u := &countedUsers{users: users{err: errors.New("throttled")}, reads: map[string]int{}}
	asker := auth.Identity{UserID: "hong2", CompanyID: "apt001", Role: store.UserRoleCustomer, Version: 2}
	v := NewVersions(u, asker)
	conns := []store.Connection{
		conn("stolen", "hong2", store.UserRoleCustomer, version(1)),
		conn("agent-old", "agent1", store.UserRoleAgent, version(4)),
	}
	for range 2 {
		got, err := v.Revoked(context.Background(), conns)
		if err == nil || !maps.Equal(got, map[string]bool{"stolen": true}) {
			t.Fatalf("Revoked = %v, %v; want the asker's user's stale socket only, and the read's error", got, err)
		}
	}
	if u.reads["apt001/agent1"] != 2 {
		t.Fatalf("the unreadable user was read %d times, want once per call", u.reads["apt001/agent1"])
	}
}
