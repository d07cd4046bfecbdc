// Package users creates users and sets their passwords, for the operator
// command (cmd/ragchat-users) and the local stack's demo users: one way to
// write a user, with its password stored only as a bcrypt hash.
package users

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// Store is what users need from the store.
type Store interface {
	GetUser(ctx context.Context, companyID, userID string) (store.User, error)
	PutUser(ctx context.Context, u store.User) error
}

// Change is a user to create or change. Empty Name, Email and Role keep
// an existing user's; a new user needs a Name and gets role CUSTOMER when
// Role is empty.
type Change struct {
	CompanyID, UserID string
	Name, Email, Role string
	Password          string
}

// Set creates the user with c, or, when it exists, replaces its password
// hash and the fields c gives and bumps its token version, which revokes
// every token issued before. It reports whether the user was created.
func Set(ctx context.Context, st Store, pw *auth.Passwords, c Change, now time.Time) (bool, error) {
	u, err := st.GetUser(ctx, c.CompanyID, c.UserID)
	created := errors.Is(err, store.ErrNotFound)
	switch {
	case created && c.Name == "":
		return false, fmt.Errorf("user %s/%s does not exist: a new user needs a name (-name)", c.CompanyID, c.UserID)
	case created:
		u = store.User{CompanyID: c.CompanyID, UserID: c.UserID, Role: store.UserRoleCustomer, CreatedAt: now.UnixMilli()}
	case err != nil:
		return false, err
	default:
		u.TokenVersion++ // a new password: the tokens issued before it stop verifying
	}
	return created, put(ctx, st, pw, u, c)
}

// Ensure creates the user with c unless it exists; an existing user (and a
// password changed since) is left alone. It reports whether the user was
// created.
func Ensure(ctx context.Context, st Store, pw *auth.Passwords, c Change, now time.Time) (bool, error) {
	_, err := st.GetUser(ctx, c.CompanyID, c.UserID)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	return Set(ctx, st, pw, c, now)
}

// put writes u with the fields c gives and the hash of c.Password.
func put(ctx context.Context, st Store, pw *auth.Passwords, u store.User, c Change) error {
	if c.Name != "" {
		u.UserName = c.Name
	}
	if c.Email != "" {
		u.Email = c.Email
	}
	if c.Role != "" {
		u.Role = c.Role
	}
	if !store.ValidRole(u.Role) {
		return fmt.Errorf("user %s/%s: role %q is neither %s nor %s", c.CompanyID, c.UserID, u.Role, store.UserRoleCustomer, store.UserRoleAgent)
	}
	hash, err := pw.Hash(c.Password)
	if err != nil {
		return fmt.Errorf("user %s/%s: %w", c.CompanyID, c.UserID, err)
	}
	u.PasswordHash = hash
	if err := st.PutUser(ctx, u); err != nil {
		return fmt.Errorf("user %s/%s: %w", c.CompanyID, c.UserID, err)
	}
	return nil
}
