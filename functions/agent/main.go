// Command agent is the AgentFunction Lambda: POST
// /api/agent/rooms/{roomId}/claim, /release and /close.
package main

import (
	"context"

	"github.com/ragchat/ragchat/functions/agent/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.Start(func(ctx context.Context, env boot.Env) any {
		cfg := env.Config
		// An HTTP API event names no WebSocket endpoint: the template sets it.
		env.Require("CALLBACK_URL", cfg.CallbackURL)
		tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
		poster := relay.New(relay.NewClient(env.AWS, cfg.CallbackURL), env.Store, relay.Options{
			PostTimeout: cfg.PostTimeout, Endpoint: cfg.CallbackURL, MaxRecipients: cfg.Limits.MaxRoomConnections, Logger: env.Log,
		})
		h := handler.New(env.Store, tokens, poster, env.Log)
		h.Metrics = env.Metrics
		return h.Handle
	})
}
