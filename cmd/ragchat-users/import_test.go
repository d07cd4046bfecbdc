package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// hashOf returns a bcrypt hash of pw at cost, computed once per test binary.
var hashOf = sync.OnceValues(func() (string, string) {
	h10, err := bcrypt.GenerateFromPassword([]byte("old-backend-pw"), 10)
	if err != nil {
		panic(err)
	}
	h4, err := bcrypt.GenerateFromPassword([]byte("weak"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h10), string(h4)
})

// importFile writes lines to a file and runs `ragchat-users import` on it.
func importFile(t *testing.T, lines []string, flags ...string) (string, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := runImport(context.Background(), append(flags, path), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestImport_CreatesUpdatesAndKeepsThenARerunChangesNothing(t *testing.T) {
	st, _ := setEnv(t)
	ctx := context.Background()
	h10, _ := hashOf()
	keptHash, err := auth.Production.Hash("kept-pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{
		{CompanyID: "apt001", UserID: "moved", UserName: "old name", Role: store.UserRoleCustomer, PasswordHash: h10, CreatedAt: 1000},
		{CompanyID: "apt001", UserID: "same", UserName: "같은", Email: "same@example.com", Role: store.UserRoleAgent, PasswordHash: keptHash, CreatedAt: 2000},
	} {
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	lines := []string{
		fmt.Sprintf(`{"companyId":"apt001","userId":"hong2","userName":"고객-275b","email":"hong2@example.com","role":"CUSTOMER","passwordHash":%q}`, h10),
		`{"companyId":"apt001","userId":"kim","userName":"김","password":"initial-pw"}`,
		"",
		fmt.Sprintf(`{"companyId":"apt001","userId":"moved","userName":"new name","passwordHash":%q}`, h10),
		`{"companyId":"apt001","userId":"same","userName":"같은","email":"same@example.com","role":"AGENT","password":"kept-pw"}`,
	}
	out, _, err := importFile(t, lines)
	if err != nil || !strings.Contains(out, "4 lines, 2 created, 1 updated, 1 unchanged, 0 rejected") {
		t.Fatalf("first run: %q, %v", out, err)
	}
	hong2, _ := st.GetUser(ctx, "apt001", "hong2")
	if hong2.PasswordHash != h10 || hong2.UserName != "고객-275b" || hong2.Email != "hong2@example.com" || hong2.Role != store.UserRoleCustomer || hong2.CreatedAt == 0 {
		t.Errorf("hong2 = %+v, want the line's fields and hash as given", hong2)
	}
	kim, _ := st.GetUser(ctx, "apt001", "kim")
	if cost, _ := bcrypt.Cost([]byte(kim.PasswordHash)); cost != auth.HashCost || !auth.Production.Check(kim.PasswordHash, "initial-pw") || kim.Role != store.UserRoleCustomer {
		t.Errorf("kim = %+v: want the plain password hashed at cost %d, role CUSTOMER by default", kim, auth.HashCost)
	}
	moved, _ := st.GetUser(ctx, "apt001", "moved")
	if moved.UserName != "new name" || moved.CreatedAt != 1000 {
		t.Errorf("moved = %+v: want the new name and the original creation time", moved)
	}
	same, _ := st.GetUser(ctx, "apt001", "same")
	if same.PasswordHash != keptHash {
		t.Error("a user whose password already matched got a new hash")
	}

	out, _, err = importFile(t, lines)
	if err != nil || !strings.Contains(out, "4 lines, 0 created, 0 updated, 4 unchanged, 0 rejected") {
		t.Fatalf("second run: %q, %v", out, err)
	}
	if again, _ := st.GetUser(ctx, "apt001", "kim"); again != kim {
		t.Errorf("the re-run rewrote kim: %+v, was %+v", again, kim)
	}
}

func TestImport_BadLinesAreRejectedByLineNumberAndChangeNothing(t *testing.T) {
	st, _ := setEnv(t)
	ctx := context.Background()
	h10, h4 := hashOf()
	lines := []string{
		`{"companyId":"apt001","userId":"good","userName":"좋은","password":"fine-pw"}`,                             // 1
		`{"companyId":"apt001","userId":"a1","userName":"x","pasword":"typo"}`,                                    // 2 unknown field
		`{"companyId":"apt001","userId":"a2","password":"pw"}`,                                                    // 3 no userName
		fmt.Sprintf(`{"companyId":"apt001","userId":"a3","userName":"x","password":"pw","passwordHash":%q}`, h10), // 4 both
		`{"companyId":"apt001","userId":"a4","userName":"x"}`,                                                     // 5 neither
		fmt.Sprintf(`{"companyId":"apt001","userId":"a5","userName":"x","passwordHash":%q}`, h4),                  // 6 weak cost
		`{"companyId":"apt001","userId":"a6","userName":"x","passwordHash":"5f4dcc3b5aa765d61d8327deb882cf99"}`,   // 7 not bcrypt
		`{"companyId":"apt001","userId":"a7","userName":"x","role":"ADMIN","password":"pw"}`,                      // 8 role
		`{"companyId":"apt 001","userId":"a8","userName":"x","password":"pw"}`,                                    // 9 companyId
		`{"companyId":"apt001","userId":"good","userName":"again","password":"pw"}`,                               // 10 repeat of line 1
		"{\"companyId\":\"apt001\",\"userId\":\"a9\",\"userName\":\"\xff\",\"password\":\"pw\"}",                  // 11 not UTF-8
		`not json`, // 12
		`{"companyId":"apt001","userId":"a10","userName":"x","password":""}`, // 13 empty password
	}
	out, _, err := importFile(t, lines)
	if err == nil || !strings.Contains(err.Error(), "12 line(s) rejected") {
		t.Fatalf("err %v, want 12 lines rejected", err)
	}
	if !strings.Contains(out, "13 lines, 1 created, 0 updated, 0 unchanged, 12 rejected") {
		t.Errorf("summary %q", out)
	}
	reasons := map[int]string{2: "unknown field", 3: "userName is required", 4: "exactly one", 5: "exactly one",
		6: "bcrypt cost 4; at least 10", 7: "not a bcrypt hash", 8: `role "ADMIN"`, 9: `companyId "apt 001"`,
		10: "repeats line 1", 11: "UTF-8", 12: "not a user object", 13: "empty password"}
	for n, why := range reasons {
		if !strings.Contains(out, fmt.Sprintf("line %d rejected: ", n)) || !strings.Contains(out, why) {
			t.Errorf("line %d: %q not reported in\n%s", n, why, out)
		}
	}
	if strings.Index(out, "line 2 rejected") > strings.Index(out, "line 13 rejected") {
		t.Error("rejected lines are not listed in file order")
	}
	for i := 1; i <= 10; i++ {
		if _, err := st.GetUser(ctx, "apt001", fmt.Sprintf("a%d", i)); err == nil {
			t.Errorf("rejected user a%d was written", i)
		}
	}
	if good, err := st.GetUser(ctx, "apt001", "good"); err != nil || good.UserName != "좋은" {
		t.Errorf("the good line: %+v, %v (the repeat on line 10 must not win)", good, err)
	}
}

func TestImport_DryRunReportsAndWritesNothing(t *testing.T) {
	st, _ := setEnv(t)
	h10, _ := hashOf()
	out, _, err := importFile(t, []string{fmt.Sprintf(`{"companyId":"apt001","userId":"hong2","userName":"x","passwordHash":%q}`, h10)}, "-dry-run")
	if err != nil || !strings.Contains(out, "dry run against") || !strings.Contains(out, "1 created") {
		t.Fatalf("%q, %v", out, err)
	}
	if _, err := st.GetUser(context.Background(), "apt001", "hong2"); err == nil {
		t.Error("a dry run wrote the user")
	}
}

func TestImport_LongFilesReportProgress(t *testing.T) {
	st, _ := setEnv(t)
	h10, _ := hashOf()
	var in strings.Builder
	const n = 300
	for i := range n {
		fmt.Fprintf(&in, `{"companyId":"apt001","userId":"u%d","userName":"user %d","passwordHash":%q}`+"\n", i, i, h10)
	}
	var progress bytes.Buffer
	im := &importer{st: st, passwords: auth.Production, now: time.Now}
	sum, err := im.run(context.Background(), strings.NewReader(in.String()), 8, progressEvery(&progress, 0))
	if err != nil || sum.counts[created] != n {
		t.Fatalf("%v, %v", sum, err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) < n/2 || !strings.HasPrefix(lines[len(lines)-1], fmt.Sprintf("import: %d lines so far: %d created", n, n)) {
		t.Errorf("%d progress lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestImport_ALineTooLongStopsTheImportWithItsNumber(t *testing.T) {
	st, _ := setEnv(t)
	im := &importer{st: st, passwords: auth.Production, now: time.Now}
	in := `{"companyId":"apt001","userId":"a","userName":"x","password":"pw"}` + "\n" + strings.Repeat("x", maxImportLine+1) + "\n"
	sum, err := im.run(context.Background(), strings.NewReader(in), 1, func(*summary) {})
	if err == nil || !strings.Contains(err.Error(), "line 2") || sum.counts[created] != 1 {
		t.Errorf("%v, %v", sum, err)
	}
}
