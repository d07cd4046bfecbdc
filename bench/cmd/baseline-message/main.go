// Command baseline-message is the one-post-per-delta message Lambda the
// benchmarks run next to the real MessageFunction: the same handler, built
// from the same environment, with the baseline's relay (see bench/baseline).
package main

import (
	"context"

	"github.com/ragchat/ragchat/bench/baseline"
	"github.com/ragchat/ragchat/functions/message/handler"
	"github.com/ragchat/ragchat/shared/boot"
)

func main() {
	boot.Start(func(ctx context.Context, env boot.Env) any { return baseline.New(handler.FromEnv(ctx, env)).Handle })
}
