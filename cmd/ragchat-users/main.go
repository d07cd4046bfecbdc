// Command ragchat-users creates a ragchat user or resets a user's password
// in the Users table.
//
//	ragchat-users -company apt001 -user hong2 -name 고객-275b -email hong2@example.com
//
// The password is read from standard input, never from a flag, so it stays
// out of shell history and process lists: typed at a prompt (not echoed,
// asked twice) on a terminal, otherwise the first line of the input
// (printf '%s\n' "$PW" | ragchat-users ...). The table is -table or
// USERS_TABLE; the endpoint and credentials come from the AWS SDK's own
// environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_DYNAMODB, ...).
//
// An existing user keeps its name, e-mail, role and creation time unless
// the matching flag is given; a new user needs -name and gets role CUSTOMER
// unless -role says otherwise.
//
//	ragchat-users import [-table TABLE] [-dry-run] users.jsonl
//
// imports users from a JSON Lines file (see importUsage in import.go):
// idempotent, with progress on standard error and a summary of what was
// created, updated, left unchanged and rejected (with line numbers).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	cmd, args := run, os.Args[1:]
	if len(args) > 0 && args[0] == "import" {
		cmd, args = runImport, args[1:]
	}
	err := cmd(context.Background(), args, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "ragchat-users:", err)
		os.Exit(1)
	}
}
