package boot

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ragchat/ragchat/shared/config"
)

// TestInit_ChildProcess is the body of the subprocess tests below; it does
// nothing when run directly.
func TestInit_ChildProcess(t *testing.T) {
	if os.Getenv("BOOT_TEST_CHILD") != "1" {
		return
	}
	env := Init(context.Background())
	if name := os.Getenv("BOOT_TEST_REQUIRE"); name != "" {
		env.Require("CALLBACK_URL", "wss://set.example")
		env.Require(name, "")
	}
	env.Must("child step", errors.New(os.Getenv("BOOT_TEST_FAIL")))
}

func TestInit_FailureLogsTheReasonAsJSONAndExits(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"bad configuration", []string{"LOG_LEVEL=loud"}, `"msg":"load config"`},
		{"a later step fails", []string{"AWS_REGION=us-east-1", "BOOT_TEST_FAIL=no RAG_URL"}, `"msg":"child step","err":"no RAG_URL"`},
		{"a required setting is empty", []string{"AWS_REGION=us-east-1", "BOOT_TEST_REQUIRE=RAG_URL", "BOOT_TEST_FAIL=not reached"}, `"msg":"load config","err":"RAG_URL is not set"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestInit_ChildProcess$")
			cmd.Env = append(os.Environ(), append([]string{"BOOT_TEST_CHILD=1"}, c.env...)...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; output %s", err, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("output %s lacks %s", out, c.want)
			}
		})
	}
}

func TestLoad_TheLoaderRunsWithinLoadTimeout(t *testing.T) {
	start := time.Now()
	got := Load(context.Background(), Env{}, "load a value", func(ctx context.Context, _ config.Config, _ aws.Config) (time.Time, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return time.Time{}, errors.New("the loader's context has no deadline")
		}
		return d, nil
	})
	if got.Before(start) || got.After(time.Now().Add(LoadTimeout)) {
		t.Fatalf("the loader's deadline %v, want within %v of the start %v", got, LoadTimeout, start)
	}
}
