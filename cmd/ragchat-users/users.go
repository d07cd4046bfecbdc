package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/term"

	"github.com/ragchat/ragchat/internal/users"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

// options are the command's flags.
type options struct {
	company, user, name, email, role, table string
}

// run parses args, reads the password from stdin (prompting on stderr when
// stdin is a terminal), and creates or updates the user. It reports what
// it did on stdout.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ragchat-users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.company, "company", "", "company id (required)")
	fs.StringVar(&o.user, "user", "", "user id, the login id (required)")
	fs.StringVar(&o.name, "name", "", "display name (required for a new user)")
	fs.StringVar(&o.email, "email", "", "e-mail address")
	fs.StringVar(&o.role, "role", "", "role: CUSTOMER or AGENT (a support agent, who logs in at /api/agent/{companyId}/login); default CUSTOMER for a new user")
	fs.StringVar(&o.table, "table", "", "Users table (default $USERS_TABLE)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ragchat-users -company ID -user ID [-name NAME] [-email EMAIL] [-role ROLE] [-table TABLE] < password")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q (the password is read from standard input)", fs.Args())
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if o.table == "" {
		o.table = cfg.Tables.Users
	}
	if err := o.validate(); err != nil {
		return err
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg, boot.DynamoDBRetries), store.Tables{Users: o.table})
	created, err := setUser(ctx, st, auth.Production, o, password, time.Now())
	if err != nil {
		return err
	}
	verb := "reset the password of"
	if created {
		verb = "created"
	}
	fmt.Fprintf(stdout, "%s user %s/%s in %s\n", verb, o.company, o.user, o.table)
	return nil
}

func (o options) validate() error {
	switch {
	case o.table == "":
		return errors.New("no table: set -table or USERS_TABLE")
	case !store.ValidCompanyID(o.company):
		return fmt.Errorf("-company %q: want 1-64 letters, digits, '_' or '-'", o.company)
	case !store.ValidUserID(o.user):
		return fmt.Errorf("-user %q: want 1-128 letters, digits, '.', '_', '@', '+' or '-'", o.user)
	case !utf8.ValidString(o.name) || !utf8.ValidString(o.email):
		return errors.New("-name and -email must be valid UTF-8")
	case o.role != "" && !store.ValidRole(o.role):
		return fmt.Errorf("-role %q: want %s or %s", o.role, store.UserRoleCustomer, store.UserRoleAgent)
	}
	return nil
}

// setUser creates the user o.company/o.user with password, or, when it
// exists, replaces its password hash and the fields whose flags are set
// (users.Set). It reports whether the user was created.
func setUser(ctx context.Context, st users.Store, pw *auth.Passwords, o options, password string, now time.Time) (bool, error) {
	return users.Set(ctx, st, pw, users.Change{
		CompanyID: o.company, UserID: o.user, Name: o.name, Email: o.email, Role: o.role, Password: password,
	}, now)
}

// readPassword reads the password: on a terminal, at a prompt with echo
// off, twice; otherwise the first line of in. The line end is not part of
// the password.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	f, isFile := in.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		pw, err := readLine(bufio.NewReader(in))
		if err != nil {
			return "", err
		}
		return pw, checkPassword(pw)
	}
	fd := int(f.Fd())
	defer restoreOnInterrupt(fd)()
	fmt.Fprint(prompt, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("read password from the terminal: %w", err)
	}
	if err := checkPassword(string(pw)); err != nil {
		return "", err
	}
	fmt.Fprint(prompt, "Repeat password: ")
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("read password from the terminal: %w", err)
	}
	if string(again) != string(pw) {
		return "", errors.New("passwords differ")
	}
	return string(pw), nil
}

// restoreOnInterrupt makes an interrupt at the prompt put the terminal
// back as it was (echo on) before the command exits; the returned
// function ends that.
func restoreOnInterrupt(fd int) (stop func()) {
	state, err := term.GetState(fd)
	if err != nil {
		return func() {}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			_ = term.Restore(fd, state)
			fmt.Fprintln(os.Stderr)
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

func checkPassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("empty password")
	case len(pw) > auth.MaxPasswordLen:
		return fmt.Errorf("password longer than %d bytes", auth.MaxPasswordLen)
	case !utf8.ValidString(pw):
		return errors.New("password is not valid UTF-8")
	}
	return nil
}
