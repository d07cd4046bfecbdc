// Command chatbot is the ChatbotFunction Lambda: POST /api/customer/chatbot (room creation).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	ctx := context.Background()
	env := boot.Init(ctx)
	key, err := secret.Token(ctx, env.Config, env.AWS)
	env.Must("load token secret", err)
	lambda.Start(newHandler(env.Store, auth.NewTokens(key, env.Config.TokenTTL), env.Log).Handle)
}
