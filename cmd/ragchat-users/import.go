package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/crypto/bcrypt"

	"github.com/ragchat/ragchat/internal/users"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

// importUsage is the import subcommand's synopsis.
const importUsage = `usage: ragchat-users import [-table TABLE] [-dry-run] [-workers N] FILE|-

Reads users from a JSON Lines file (one object per line; "-" is standard
input) and creates or updates them in the Users table:

  {"companyId":"apt001","userId":"hong2","userName":"고객-275b","email":"hong2@example.com","role":"CUSTOMER","passwordHash":"$2a$10$..."}
  {"companyId":"apt001","userId":"kim","userName":"김","password":"initial-secret"}

Each line has companyId, userId and userName; email and role (CUSTOMER, the
default, or AGENT) are optional; and exactly one of passwordHash (a bcrypt
hash of cost 10 or more, as the old backend stored it) or password (plain,
hashed here at cost 10). Blank lines are skipped. Re-running a file changes
nothing: a user whose fields and password already match is left alone.
Progress goes to standard error, the summary to standard output; the exit
status is 1 when any line was rejected (the other lines are imported).
`

// minImportCost is the weakest bcrypt cost import accepts; weaker hashes
// would make stolen hashes cheap to crack, and ragchat writes cost
// auth.HashCost (10).
const minImportCost = 10

// importLine is one line of the file. Unknown members are refused, so
// that a misspelt "pasword" is an error instead of a user without one.
type importLine struct {
	CompanyID    string  `json:"companyId"`
	UserID       string  `json:"userId"`
	UserName     string  `json:"userName"`
	Email        string  `json:"email"`
	Role         string  `json:"role"`
	PasswordHash *string `json:"passwordHash"`
	Password     *string `json:"password"`
}

// maxImportLine bounds one line: a user is a few hundred bytes.
const maxImportLine = 64 << 10

// outcome of one line.
type outcome int

const (
	created outcome = iota
	updated
	unchanged
	rejected
)

// result is what became of line n.
type result struct {
	line    int
	outcome outcome
	reason  string // for rejected lines
}

// summary counts the outcomes and lists the rejected lines.
type summary struct {
	counts   [4]int
	rejected []result
}

func (s *summary) add(r result) {
	s.counts[r.outcome]++
	if r.outcome == rejected {
		s.rejected = append(s.rejected, r)
	}
}

func (s *summary) lines() int { return s.counts[0] + s.counts[1] + s.counts[2] + s.counts[3] }

func (s *summary) String() string {
	return fmt.Sprintf("%d created, %d updated, %d unchanged, %d rejected",
		s.counts[created], s.counts[updated], s.counts[unchanged], s.counts[rejected])
}

// importer applies lines to the store. Passwords hashes plain passwords
// and checks them against stored hashes.
type importer struct {
	st        users.Store
	passwords *auth.Passwords
	dryRun    bool
	now       func() time.Time
}

// runImport is `ragchat-users import`.
func runImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ragchat-users import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", "", "Users table (default $USERS_TABLE)")
	dryRun := fs.Bool("dry-run", false, "read the table and report what would change, writing nothing")
	workers := fs.Int("workers", 4, "lines processed at once (each plain password costs a bcrypt hash)")
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("import needs one file (or - for standard input)")
	}
	if *workers < 1 || *workers > 64 {
		return fmt.Errorf("-workers %d: want 1 to 64", *workers)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if *table == "" {
		*table = cfg.Tables.Users
	}
	if *table == "" {
		return errors.New("no table: set -table or USERS_TABLE")
	}
	in := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	im := &importer{
		st:        store.New(dynamodb.NewFromConfig(awsCfg, boot.DynamoDBRetries), store.Tables{Users: *table}),
		passwords: auth.Production, dryRun: *dryRun, now: time.Now,
	}
	sum, err := im.run(ctx, in, *workers, progressEvery(stderr, 2*time.Second))
	verb := "imported into"
	if *dryRun {
		verb = "dry run against"
	}
	fmt.Fprintf(stdout, "%s %s: %d lines, %s\n", verb, *table, sum.lines(), sum)
	for _, r := range sum.rejected {
		fmt.Fprintf(stdout, "  line %d rejected: %s\n", r.line, r.reason)
	}
	if err != nil {
		return err
	}
	if n := sum.counts[rejected]; n > 0 {
		return fmt.Errorf("%d line(s) rejected", n)
	}
	return nil
}

// progressEvery returns a progress reporter writing to w at most once per
// interval.
func progressEvery(w io.Writer, interval time.Duration) func(*summary) {
	last := time.Now()
	return func(s *summary) {
		if time.Since(last) >= interval {
			last = time.Now()
			fmt.Fprintf(w, "import: %d lines so far: %s\n", s.lines(), s)
		}
	}
}

// job is one parsed, valid line on its way to a worker.
type job struct {
	line int
	user importLine
}

// run reads in line by line, validates each line, and applies the valid
// ones with workers at once. A line that repeats an earlier line's user is
// rejected. progress is called after every line. The summary holds every
// line read; an error is returned only when the input could not be read
// (the lines before it are applied) or ctx ended.
func (im *importer) run(ctx context.Context, in io.Reader, workers int, progress func(*summary)) (*summary, error) {
	sum := &summary{}
	jobs := make(chan job)
	results := make(chan result)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- im.apply(ctx, j)
			}
		}()
	}
	var readErr error
	go func() {
		defer close(jobs)
		readErr = im.read(ctx, in, jobs, results)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	for r := range results {
		sum.add(r)
		progress(sum)
	}
	sort.Slice(sum.rejected, func(i, j int) bool { return sum.rejected[i].line < sum.rejected[j].line })
	if readErr == nil {
		readErr = ctx.Err()
	}
	return sum, readErr
}

// read parses in, sending valid lines to jobs and rejections to results.
// Reading stops at the first error of in.
func (im *importer) read(ctx context.Context, in io.Reader, jobs chan<- job, results chan<- result) error {
	seen := map[string]int{} // companyId/userId -> first line
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), maxImportLine)
	n := 0
	for sc.Scan() {
		n++
		if ctx.Err() != nil {
			return ctx.Err()
		}
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		u, err := parseImportLine(raw)
		if err == nil {
			key := u.CompanyID + "/" + u.UserID
			if first, dup := seen[key]; dup {
				err = fmt.Errorf("user %s repeats line %d", key, first)
			} else {
				seen[key] = n
			}
		}
		if err != nil {
			results <- result{line: n, outcome: rejected, reason: err.Error()}
			continue
		}
		jobs <- job{line: n, user: u}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d bytes; import stopped there", n+1, maxImportLine)
		}
		return fmt.Errorf("read line %d: %w", n+1, err)
	}
	return nil
}

// parseImportLine decodes and validates one line.
func parseImportLine(raw []byte) (importLine, error) {
	if !utf8.Valid(raw) {
		return importLine{}, errors.New("not valid UTF-8")
	}
	var u importLine
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return importLine{}, fmt.Errorf("not a user object: %v", err)
	}
	if dec.More() {
		return importLine{}, errors.New("more than one JSON value on the line")
	}
	if u.Role == "" {
		u.Role = store.UserRoleCustomer
	}
	switch {
	case !store.ValidCompanyID(u.CompanyID):
		return importLine{}, fmt.Errorf("companyId %q: want 1-64 letters, digits, '_' or '-'", u.CompanyID)
	case !store.ValidUserID(u.UserID):
		return importLine{}, fmt.Errorf("userId %q: want 1-128 letters, digits, '.', '_', '@', '+' or '-'", u.UserID)
	case strings.TrimSpace(u.UserName) == "":
		return importLine{}, errors.New("userName is required")
	case !store.ValidRole(u.Role):
		return importLine{}, fmt.Errorf("role %q: want %s or %s", u.Role, store.UserRoleCustomer, store.UserRoleAgent)
	case (u.PasswordHash == nil) == (u.Password == nil):
		return importLine{}, errors.New("give exactly one of passwordHash and password")
	}
	if u.Password != nil {
		return u, checkPassword(*u.Password)
	}
	cost, err := bcrypt.Cost([]byte(*u.PasswordHash))
	if err != nil {
		return importLine{}, errors.New("passwordHash is not a bcrypt hash")
	}
	if cost < minImportCost {
		return importLine{}, fmt.Errorf("passwordHash has bcrypt cost %d; at least %d is required (have the user set a new password)", cost, minImportCost)
	}
	return u, nil
}

// apply creates, updates or leaves alone the user of j.
func (im *importer) apply(ctx context.Context, j job) result {
	fail := func(err error) result { return result{line: j.line, outcome: rejected, reason: err.Error()} }
	l := j.user
	cur, err := im.st.GetUser(ctx, l.CompanyID, l.UserID)
	isNew := errors.Is(err, store.ErrNotFound)
	if err != nil && !isNew {
		return fail(fmt.Errorf("read %s/%s: %w", l.CompanyID, l.UserID, err))
	}
	want := cur
	if isNew {
		want = store.User{CompanyID: l.CompanyID, UserID: l.UserID, CreatedAt: im.now().UnixMilli()}
	}
	want.UserName, want.Email, want.Role = l.UserName, l.Email, l.Role
	switch {
	case l.PasswordHash != nil:
		want.PasswordHash = *l.PasswordHash
	case isNew || !im.passwords.Check(cur.PasswordHash, *l.Password):
		// A stored hash that already matches is kept: re-running the file
		// must not rewrite every user with a fresh salt.
		if want.PasswordHash, err = im.passwords.Hash(*l.Password); err != nil {
			return fail(err)
		}
	}
	out := updated
	switch {
	case isNew:
		out = created
	case want == cur:
		return result{line: j.line, outcome: unchanged}
	}
	if !im.dryRun {
		if err := im.st.PutUser(ctx, want); err != nil {
			return fail(fmt.Errorf("write %s/%s: %w", l.CompanyID, l.UserID, err))
		}
	}
	return result{line: j.line, outcome: out}
}
