// Command history is the HistoryFunction Lambda: the customers' reads
// GET /api/customer/rooms and GET /api/customer/rooms/{roomId}/messages.
package main

import (
	"github.com/ragchat/ragchat/functions/history/handler"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.StartWith("load token secret", secret.Tokens, func(env boot.Env, tokens *auth.Tokens) any {
		return handler.New(env.Store, tokens, env.Log).Handle
	})
}
