// Command chatbot is the ChatbotFunction Lambda: POST /api/customer/chatbot (room creation).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ragchat/ragchat/functions/chatbot/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	ctx := context.Background()
	env := boot.Init(ctx)
	tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
	lambda.Start(handler.New(env.Store, tokens, env.Config.Limits.RoomsPerHour, env.Log).Handle)
}
