// Command chatbot is the ChatbotFunction Lambda: POST /api/customer/chatbot (room creation).
package main

import (
	"context"

	"github.com/ragchat/ragchat/functions/chatbot/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.Start(func(ctx context.Context, env boot.Env) any {
		tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
		return handler.New(env.Store, tokens, env.Config.Limits.RoomsPerHour, env.Log).Handle
	})
}
