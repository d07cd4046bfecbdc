package stack

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ragchat/ragchat/internal/users"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// DemoUser is a user the stack seeds, with the password to log in with.
type DemoUser struct {
	CompanyID, UserID, Password, UserName, Email, Role string
}

// DemoUsers are the users every local stack has: the trace's hong2 of
// apt001 and a few more, including one of the dev RAG's second company,
// and a support agent of each company.
var DemoUsers = []DemoUser{
	{"apt001", "hong2", "1234", "고객-275b", "hong2@example.com", "CUSTOMER"},
	{"apt001", "kim01", "1234", "김민수", "kim01@example.com", "CUSTOMER"},
	{"apt001", "lee02", "1234", "이서연", "lee02@example.com", "CUSTOMER"},
	{"book001", "reader1", "1234", "독자-01", "reader1@example.com", "CUSTOMER"},
	{"apt001", "agent1", "1234", "상담원-01", "agent1@example.com", "AGENT"},
	{"book001", "agent2", "1234", "상담원-02", "agent2@example.com", "AGENT"},
}

// seedUsers writes the demo users that do not exist yet; existing users
// (and passwords changed since) are left alone.
func seedUsers(ctx context.Context, st *store.Store, log *slog.Logger) error {
	for _, u := range DemoUsers {
		created, err := users.Ensure(ctx, st, auth.Production, users.Change{
			CompanyID: u.CompanyID, UserID: u.UserID, Name: u.UserName, Email: u.Email, Role: u.Role, Password: u.Password,
		}, time.Now())
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if created {
			log.Info("seeded demo user", "companyId", u.CompanyID, "userId", u.UserID)
		}
	}
	return nil
}
