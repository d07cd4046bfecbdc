// Command ragchat-bench runs ragchat's benchmarks (`make bench`) and prints
// the results as Markdown on stdout, progress on stderr. BENCH_QUICK=1
// selects the short run CI uses; -only runs some sections.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"

	"github.com/ragchat/ragchat/bench"
	"github.com/ragchat/ragchat/internal/samtemplate"
)

func main() {
	only := flag.String("only", "", "comma-separated sections to run ("+strings.Join(bench.Sections, ",")+"); empty runs all")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the bench process (stack included) to this file")
	flag.Parse()
	root, err := samtemplate.FindRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ragchat-bench:", err)
		os.Exit(1)
	}
	cfg := bench.DefaultConfig(root, os.Getenv("BENCH_QUICK") == "1")
	if *only != "" {
		cfg.Sections = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			cfg.Sections[strings.TrimSpace(s)] = true
		}
	}
	if err := run(cfg, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "ragchat-bench:", err)
		os.Exit(1)
	}
}

func run(cfg bench.Config, cpuProfile string) error {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return bench.Run(ctx, cfg, os.Stdout, os.Stderr)
}
