// Command history is the HistoryFunction Lambda: the customers' reads
// GET /api/customer/rooms and GET /api/customer/rooms/{roomId}/messages.
package main

import (
	"context"

	"github.com/ragchat/ragchat/functions/history/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.Start(func(ctx context.Context, env boot.Env) any {
		tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
		return handler.New(env.Store, tokens, env.Log).Handle
	})
}
