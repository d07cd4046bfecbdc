package users

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/store"
)

func TestEnsure_CreatesOnceAndLeavesAnExistingUserAlone(t *testing.T) {
	t.Parallel()
	st, _ := testkit.Store(t)
	pw := testkit.Passwords()
	ctx := context.Background()
	t0 := time.UnixMilli(1769145304307)
	c := Change{CompanyID: "apt001", UserID: "agent1", Name: "상담원-01", Role: store.UserRoleAgent, Password: "1234"}
	if created, err := Ensure(ctx, st, pw, c, t0); err != nil || !created {
		t.Fatalf("first Ensure = %v, %v; want created", created, err)
	}
	if _, err := Set(ctx, st, pw, Change{CompanyID: "apt001", UserID: "agent1", Password: "changed"}, t0); err != nil {
		t.Fatal(err)
	}
	if created, err := Ensure(ctx, st, pw, c, t0.Add(time.Hour)); err != nil || created {
		t.Fatalf("second Ensure = %v, %v; want nothing written", created, err)
	}
	u, err := st.GetUser(ctx, "apt001", "agent1")
	if err != nil || !pw.Check(u.PasswordHash, "changed") || u.UserName != "상담원-01" || u.Role != store.UserRoleAgent || u.CreatedAt != t0.UnixMilli() {
		t.Fatalf("user %+v, %v: want the agent with the changed password", u, err)
	}
}

func TestSet_ANewUserNeedsAName(t *testing.T) {
	t.Parallel()
	st, _ := testkit.Store(t)
	pw := testkit.Passwords()
	_, err := Set(context.Background(), st, pw, Change{CompanyID: "apt001", UserID: "nobody", Password: "1234"}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "needs a name") {
		t.Fatalf("Set = %v, want a refusal naming the missing name", err)
	}
	if _, err := st.GetUser(context.Background(), "apt001", "nobody"); err == nil {
		t.Fatal("the refused user was written")
	}
}
