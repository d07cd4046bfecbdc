// Command message is the Lambda of the websocket routes sendMessage and
// $default: it streams RAG answers to the room (see handler.Handler, built
// by handler.FromEnv).
package main

import (
	"context"

	"github.com/ragchat/ragchat/functions/message/handler"
	"github.com/ragchat/ragchat/shared/boot"
)

func main() {
	boot.Start(func(ctx context.Context, env boot.Env) any { return handler.FromEnv(ctx, env).Handle })
}
