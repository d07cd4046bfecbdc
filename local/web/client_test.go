package web

import (
	"os/exec"
	"testing"
)

// TestClientModule runs the client module's own tests
// (testdata/client.test.mjs) under Node's test runner: seq order and
// duplicates, repair from answer, resuming on a new connection, resending
// by clientMessageId, backing off on ANSWER_IN_PROGRESS and RATE_LIMITED,
// ping, ignored frames. Skipped where Node.js is not installed.
func TestClientModule(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH: skipping the client module's tests")
	}
	out, err := exec.Command(node, "--no-warnings", "--test", "testdata/client.test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test testdata/client.test.mjs: %v\n%s", err, out)
	}
}
