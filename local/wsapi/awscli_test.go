package wsapi

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestAWSCLI_ManagementAPIWorksUnchanged drives the @connections API with
// the aws CLI (v1 or v2, e.g. Debian's awscli package); skipped when no
// `aws` is on PATH, and in -short mode (the CLI takes seconds to start).
func TestAWSCLI_ManagementAPIWorksUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI: not in -short mode")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	h := start(t, Config{}, nil)
	c, ev := h.dial("", nil)
	id := ev.RequestContext.ConnectionID
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID=AKIDLOCAL", "AWS_SECRET_ACCESS_KEY=local-secret",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true")
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctxGuard(t), "aws", args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// "--connection-id=" + id: an id may begin with '-' (URL-safe base64),
	// which the CLI's parser would take for an option.
	api := func(op string, extra ...string) (string, error) {
		return run(append([]string{"apigatewaymanagementapi", op,
			"--endpoint-url", h.ts.URL + "/prod", "--connection-id=" + id}, extra...)...)
	}

	version, err := run("--version")
	if err != nil {
		t.Fatalf("aws --version: %v\n%s", err, version)
	}
	data := []string{"--data", "hello 안녕"}
	if !strings.HasPrefix(version, "aws-cli/1.") {
		data = append(data, "--cli-binary-format", "raw-in-base64-out") // v2 reads blobs as base64 by default
	}
	if out, err := api("post-to-connection", data...); err != nil {
		t.Fatalf("post-to-connection: %v\n%s", err, out)
	}
	if _, got := read(t, c); string(got) != "hello 안녕" {
		t.Errorf("client got %q", got)
	}
	out, err := api("get-connection")
	if err != nil || !strings.Contains(out, `"SourceIp": "127.0.0.1"`) || !strings.Contains(out, `"ConnectedAt"`) {
		t.Errorf("get-connection: %v\n%s", err, out)
	}
	closed := make(chan error, 1)
	go func() {
		_, _, err := c.Read(context.Background())
		closed <- err
	}()
	if out, err := api("delete-connection"); err != nil {
		t.Fatalf("delete-connection: %v\n%s", err, out)
	}
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("socket after delete-connection: %v", err)
	}
	if out, err := api("post-to-connection", data...); err == nil || !strings.Contains(out, "GoneException") {
		t.Errorf("post after delete: %v\n%s", err, out)
	}
}
