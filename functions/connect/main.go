// Command connect is the ConnectFunction Lambda: the websocket $connect route.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ragchat/ragchat/functions/connect/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	ctx := context.Background()
	env := boot.Init(ctx)
	tokens, err := secret.Tokens(ctx, env.Config, env.AWS)
	env.Must("load token secret", err)
	h := handler.New(env.Store, tokens, env.Log)
	h.Metrics = env.Metrics
	lambda.Start(h.Handle)
}
