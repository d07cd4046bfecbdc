// Command connect is the ConnectFunction Lambda: the websocket $connect route.
package main

import (
	"github.com/ragchat/ragchat/functions/connect/handler"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.StartWith("load token secret", secret.Tokens, func(env boot.Env, tokens *auth.Tokens) any {
		h := handler.New(env.Store, tokens, env.Log)
		h.Metrics = env.Metrics
		// @connections is asked only when a room is full: a client per ask.
		h.Cap = handler.Cap{Max: env.Config.Limits.MaxRoomConnections, CallbackURL: env.Config.CallbackURL,
			Probe: func(endpoint string) handler.Prober { return relay.NewClient(env.AWS, endpoint) }}
		return h.Handle
	})
}
