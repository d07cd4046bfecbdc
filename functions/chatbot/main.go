// Command chatbot is the ChatbotFunction Lambda: POST /api/customer/chatbot (room creation).
package main

import (
	"github.com/ragchat/ragchat/functions/chatbot/handler"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.StartWith("load token secret", secret.Tokens, func(env boot.Env, tokens *auth.Tokens) any {
		return handler.New(env.Store, tokens, env.Config.Limits.RoomsPerHour, env.Log).Handle
	})
}
