// Command agent is the AgentFunction Lambda: POST
// /api/agent/rooms/{roomId}/claim, /release and /close.
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ragchat/ragchat/functions/agent/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	ctx := context.Background()
	env := boot.Init(ctx)
	if env.Config.CallbackURL == "" {
		// An HTTP API event names no WebSocket endpoint: the template sets it.
		env.Must("load config", errors.New("CALLBACK_URL is not set"))
	}
	tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
	cfg := env.Config
	poster := relay.New(relay.NewClient(env.AWS, cfg.CallbackURL), env.Store, relay.Options{
		PostTimeout: cfg.PostTimeout, Endpoint: cfg.CallbackURL, MaxRecipients: cfg.Limits.MaxRoomConnections, Logger: env.Log,
	})
	h := handler.New(env.Store, tokens, poster, env.Log)
	h.Metrics = env.Metrics
	lambda.Start(h.Handle)
}
