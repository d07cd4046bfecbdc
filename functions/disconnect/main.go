// Command disconnect is the DisconnectFunction Lambda: the websocket $disconnect route.
package main

import (
	"context"

	"github.com/ragchat/ragchat/functions/disconnect/handler"
	"github.com/ragchat/ragchat/shared/boot"
)

func main() {
	boot.Start(func(_ context.Context, env boot.Env) any {
		return handler.New(env.Store, env.Log).Handle
	})
}
