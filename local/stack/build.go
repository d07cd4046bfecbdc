package stack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// buildParallel is how many functions are built at once.
const buildParallel = 2

// buildFunctions builds every function for the host through the Makefile
// target SAM uses (`make build-<LogicalId>`), at most buildParallel at a
// time, and returns the path of each bootstrap by logical ID.
func buildFunctions(ctx context.Context, dir, buildDir string, ids []string, log *slog.Logger) (map[string]string, error) {
	paths := make(map[string]string, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, buildParallel)
	var wg sync.WaitGroup
	for i, id := range ids {
		artifacts := filepath.Join(buildDir, id)
		paths[id] = filepath.Join(artifacts, "bootstrap")
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[i] = buildFunction(ctx, dir, artifacts, id, log)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return paths, nil
}

func buildFunction(ctx context.Context, dir, artifacts, id string, log *slog.Logger) error {
	start := time.Now()
	log.Info("building", "function", id)
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "build-"+id,
		"ARTIFACTS_DIR="+artifacts, "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s (make build-%s): %w\n%s", id, id, err, out.Bytes())
	}
	log.Info("built", "function", id, "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	return nil
}
