package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// setEnv points the command's AWS SDK and config at the test DynamoDB and
// returns a store over the same tables.
func setEnv(t *testing.T) (*store.Store, store.Tables) {
	t.Helper()
	st, tables := testkit.Store(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		testkit.EndpointVariable:      testkit.Endpoint(t),
		"AWS_REGION":                  testkit.Region,
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"USERS_TABLE":                 tables.Users,
	} {
		t.Setenv(k, v)
	}
	return st, tables
}

func runCmd(args []string, stdin string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestRun_CreatesAUserThenResetsItsPassword(t *testing.T) {
	st, tables := setEnv(t)
	ctx := context.Background()
	out, _, err := runCmd([]string{"-company", "apt001", "-user", "hong2", "-name", "고객-275b", "-email", "hong2@example.com"}, "1234\n")
	if err != nil || !strings.HasPrefix(out, "created user apt001/hong2") {
		t.Fatalf("create: %q, %v", out, err)
	}
	u, err := st.GetUser(ctx, "apt001", "hong2")
	if err != nil {
		t.Fatal(err)
	}
	if u.UserName != "고객-275b" || u.Email != "hong2@example.com" || u.Role != store.UserRoleCustomer || u.CreatedAt == 0 {
		t.Fatalf("created user = %+v", u)
	}
	if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || cost < auth.HashCost {
		t.Fatalf("hash cost %d, %v", cost, err)
	}
	if !auth.Production.Check(u.PasswordHash, "1234") {
		t.Fatal("created password does not check")
	}

	// Reset: -table instead of USERS_TABLE, password without a line end.
	t.Setenv("USERS_TABLE", "")
	out, _, err = runCmd([]string{"-company", "apt001", "-user", "hong2", "-table", tables.Users}, "n3w pass")
	if err != nil || !strings.HasPrefix(out, "reset the password of user apt001/hong2") {
		t.Fatalf("reset: %q, %v", out, err)
	}
	r, err := st.GetUser(ctx, "apt001", "hong2")
	if err != nil {
		t.Fatal(err)
	}
	if !auth.Production.Check(r.PasswordHash, "n3w pass") || auth.Production.Check(r.PasswordHash, "1234") {
		t.Fatal("reset password does not check, or the old one still does")
	}
	if r.UserName != u.UserName || r.Email != u.Email || r.Role != u.Role || r.CreatedAt != u.CreatedAt {
		t.Fatalf("reset changed other fields: %+v -> %+v", u, r)
	}
}

func TestRun_CreatesAnAgent(t *testing.T) {
	st, _ := setEnv(t)
	out, _, err := runCmd([]string{"-company", "apt001", "-user", "agent1", "-name", "상담원-01", "-role", "AGENT"}, "1234\n")
	if err != nil || !strings.HasPrefix(out, "created user apt001/agent1") {
		t.Fatalf("create: %q, %v", out, err)
	}
	u, err := st.GetUser(context.Background(), "apt001", "agent1")
	if err != nil || u.Role != store.UserRoleAgent || u.UserName != "상담원-01" || !auth.Production.Check(u.PasswordHash, "1234") {
		t.Fatalf("agent = %+v, %v", u, err)
	}
}

func TestRun_RefusesBadUsageAndWritesNothing(t *testing.T) {
	st, _ := setEnv(t)
	long := strings.Repeat("p", auth.MaxPasswordLen+1)
	cases := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"password as a flag", []string{"-company", "apt001", "-user", "u1", "-name", "n", "-password", "1234"}, "1234\n"},
		{"password as an argument", []string{"-company", "apt001", "-user", "u1", "-name", "n", "1234"}, "1234\n"},
		{"no company", []string{"-user", "u1", "-name", "n"}, "1234\n"},
		{"invalid company", []string{"-company", "apt#1", "-user", "u1", "-name", "n"}, "1234\n"},
		{"invalid user", []string{"-company", "apt001", "-user", "u 1", "-name", "n"}, "1234\n"},
		{"new user without name", []string{"-company", "apt001", "-user", "u1"}, "1234\n"},
		{"invalid UTF-8 name", []string{"-company", "apt001", "-user", "u1", "-name", "\xff"}, "1234\n"},
		{"empty password", []string{"-company", "apt001", "-user", "u1", "-name", "n"}, "\n"},
		{"no input", []string{"-company", "apt001", "-user", "u1", "-name", "n"}, ""},
		{"password too long", []string{"-company", "apt001", "-user", "u1", "-name", "n"}, long + "\n"},
		{"unknown role", []string{"-company", "apt001", "-user", "u1", "-name", "n", "-role", "ADMIN"}, "1234\n"},
		{"lower-case role", []string{"-company", "apt001", "-user", "u1", "-name", "n", "-role", "agent"}, "1234\n"},
	}
	for _, c := range cases {
		if out, _, err := runCmd(c.args, c.stdin); err == nil {
			t.Errorf("%s: succeeded: %q", c.name, out)
		}
	}
	if _, err := st.GetUser(context.Background(), "apt001", "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused command wrote the user: %v", err)
	}
	t.Setenv("USERS_TABLE", "")
	if _, _, err := runCmd([]string{"-company", "apt001", "-user", "u1", "-name", "n"}, "1234\n"); err == nil || !strings.Contains(err.Error(), "USERS_TABLE") {
		t.Fatalf("no table: %v", err)
	}
	if _, _, err := runCmd([]string{"-h"}, ""); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

func TestSetUser_UpdatesOnlyTheGivenFields(t *testing.T) {
	t.Parallel()
	st, _ := testkit.Store(t)
	ctx := context.Background()
	t0 := time.UnixMilli(1769145304307)
	base := options{company: "apt001", user: "kim"}
	cases := []struct {
		name    string
		o       options
		created bool
		want    store.User
	}{
		{"create with defaults", options{name: "김"}, true,
			store.User{UserName: "김", Role: store.UserRoleCustomer, CreatedAt: t0.UnixMilli()}},
		// Every run sets a password: each bumps the token version.
		{"change e-mail only", options{email: "kim@example.com"}, false,
			store.User{UserName: "김", Email: "kim@example.com", Role: store.UserRoleCustomer, CreatedAt: t0.UnixMilli(), TokenVersion: 1}},
		{"change name and role", options{name: "김철수", role: "AGENT"}, false,
			store.User{UserName: "김철수", Email: "kim@example.com", Role: "AGENT", CreatedAt: t0.UnixMilli(), TokenVersion: 2}},
		{"password only", options{}, false,
			store.User{UserName: "김철수", Email: "kim@example.com", Role: "AGENT", CreatedAt: t0.UnixMilli(), TokenVersion: 3}},
	}
	for i, c := range cases {
		o := c.o
		o.company, o.user = base.company, base.user
		pw := strings.Repeat("x", i+1)
		created, err := setUser(ctx, st, testkit.Passwords(), o, pw, t0.Add(time.Duration(i)*time.Hour))
		if err != nil || created != c.created {
			t.Fatalf("%s: created %v, %v", c.name, created, err)
		}
		got, err := st.GetUser(ctx, "apt001", "kim")
		if err != nil || !testkit.Passwords().Check(got.PasswordHash, pw) {
			t.Fatalf("%s: %+v, %v", c.name, got, err)
		}
		c.want.CompanyID, c.want.UserID, c.want.PasswordHash = "apt001", "kim", got.PasswordHash
		if got != c.want {
			t.Fatalf("%s: user = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestReadPassword_FromAPipeTakesTheFirstLine(t *testing.T) {
	t.Parallel()
	cases := map[string]string{"1234\n": "1234", "1234\r\nrest\n": "1234", "no newline": "no newline", " spaced pw \n": " spaced pw "}
	for in, want := range cases {
		got, err := readPassword(strings.NewReader(in), &bytes.Buffer{})
		if err != nil || got != want {
			t.Errorf("readPassword(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
