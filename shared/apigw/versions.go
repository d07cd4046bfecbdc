package apigw

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// Versions tells a room's sockets whose token a password change has
// revoked since they connected from the rest, for the frames of the room:
// a stolen token's socket stops getting the conversation at the reset,
// whoever's frame it is (an answer, a message of the customer or the
// agent, a status change). A socket is revoked when its connection's
// token version is not its user's any more, its role is not the user's,
// or the user is gone, as Current decides for a token.
//
// The identities given to NewVersions were just found current (the
// caller's own token): their users' sockets are told apart at no
// request. Any other user of the room is read once (one GetItem on Users,
// the users read in parallel) and kept, so a Versions used for every
// lookup of one answer reads each user at most once. Connections stored
// without a version are never revoked. Safe for concurrent use.
type Versions struct {
	users UserReader
	mu    sync.Mutex
	known map[userKey]userState
}

type userKey struct{ companyID, userID string }

// userState is what a user's sockets are checked against.
type userState struct {
	gone    bool
	version int64
	role    string
}

// NewVersions returns a Versions reading users from users and knowing
// current as they are.
func NewVersions(users UserReader, current ...auth.Identity) *Versions {
	v := &Versions{users: users, known: map[userKey]userState{}}
	for _, id := range current {
		v.known[userKey{id.CompanyID, id.UserID}] = userState{version: id.Version, role: id.Role}
	}
	return v
}

// IdentityOf is the identity a connection was opened with, ok false when
// the connection was stored without its token's version.
func IdentityOf(c store.Connection) (id auth.Identity, ok bool) {
	if c.TokenVersion == nil {
		return auth.Identity{}, false
	}
	return auth.Identity{UserID: c.UserID, CompanyID: c.CompanyID, Role: c.Role, Version: *c.TokenVersion}, true
}

// Revoked returns the ids of the connections of conns that are revoked.
// A user who cannot be read is not known for revoked: their sockets are
// kept (a failed extra check must not silence a room; a question from
// such a socket is still checked on its own), the error says who, and
// the next call reads them again.
func (v *Versions) Revoked(ctx context.Context, conns []store.Connection) (map[string]bool, error) {
	err := v.learn(ctx, conns) // the users known still decide on a failure
	return v.revoked(conns), err
}

// learn reads the users of conns that are checked and not yet known.
func (v *Versions) learn(ctx context.Context, conns []store.Connection) error {
	v.mu.Lock()
	var unknown []userKey
	seen := map[userKey]bool{}
	for _, c := range conns {
		k := userKey{c.CompanyID, c.UserID}
		if _, known := v.known[k]; known || seen[k] || c.TokenVersion == nil {
			continue
		}
		seen[k] = true
		unknown = append(unknown, k)
	}
	v.mu.Unlock()
	errs := make([]error, len(unknown))
	var wg sync.WaitGroup
	for i, k := range unknown {
		wg.Go(func() {
			u, err := v.users.GetUser(ctx, k.companyID, k.userID)
			var st userState
			switch {
			case errors.Is(err, store.ErrNotFound):
				st.gone = true
			case err != nil:
				errs[i] = fmt.Errorf("token version of %s/%s: %w", k.companyID, k.userID, err)
				return
			default:
				st.version, st.role = u.TokenVersion, u.Role
			}
			v.mu.Lock()
			v.known[k] = st
			v.mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// revoked tells the revoked connections of conns by the users known.
func (v *Versions) revoked(conns []store.Connection) map[string]bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]bool{}
	for _, c := range conns {
		st, known := v.known[userKey{c.CompanyID, c.UserID}]
		if !known || c.TokenVersion == nil {
			continue
		}
		if st.gone || *c.TokenVersion != st.version || c.Role != st.role {
			out[c.ConnectionID] = true
		}
	}
	return out
}
