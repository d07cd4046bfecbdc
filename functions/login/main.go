// Command login is the LoginFunction Lambda: POST /api/customer/{companyId}/login.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ragchat/ragchat/functions/login/handler"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	ctx := context.Background()
	env := boot.Init(ctx)
	lockout := handler.LockoutFrom(env.Config.Limits)
	tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
	h := handler.New(env.Store, tokens, auth.Production, lockout, env.Log)
	h.Metrics = env.Metrics
	lambda.Start(h.Handle)
}
