// Command history is the HistoryFunction Lambda: the customers' reads
// GET /api/customer/rooms and GET /api/customer/rooms/{roomId}/messages.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ragchat/ragchat/functions/history/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	ctx := context.Background()
	env := boot.Init(ctx)
	tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
	lambda.Start(handler.New(env.Store, tokens, env.Log).Handle)
}
