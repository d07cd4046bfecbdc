// Command disconnect is the DisconnectFunction Lambda: the websocket $disconnect route.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ragchat/ragchat/functions/disconnect/handler"
	"github.com/ragchat/ragchat/shared/boot"
)

func main() {
	env := boot.Init(context.Background())
	lambda.Start(handler.New(env.Store, env.Log).Handle)
}
