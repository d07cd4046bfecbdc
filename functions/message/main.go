// Command message is the Lambda of the websocket routes sendMessage and
// $default: it streams RAG answers to the room (see Handler).
package main

import (
	"context"

	"github.com/ragchat/ragchat/functions/message/handler"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.Start(func(ctx context.Context, env boot.Env) any {
		cfg := env.Config
		env.Require("RAG_URL", cfg.RAGURL)
		env.Must("load config", handler.CheckDeadlineMargin(cfg.DeadlineMargin, cfg.FunctionTimeout))
		bearer := boot.Load(ctx, env, "load the RAG bearer", secret.RAGBearer)
		ragClient := rag.NewClient(cfg.RAGURL, cfg.RAGSysInfo, rag.Timeouts{Connect: cfg.RAGConnectTimeout, FirstEvent: cfg.RAGFirstEventTimeout, Idle: cfg.RAGIdleTimeout}, nil)
		h := &handler.Handler{
			Conns: env.Store, History: env.Store, Rooms: env.Store, Limits: handler.LimitsFrom(cfg.Limits, env.Store), Log: env.Log, CallbackURL: cfg.CallbackURL, DeadlineMargin: cfg.DeadlineMargin, Metrics: env.Metrics,
			RAG:    ragClient.WithBearer(bearer),
			Poster: relay.NewClients(env.AWS).For,
			Relay:  relay.Options{MinFrameInterval: cfg.MinFrameInterval, PostTimeout: cfg.PostTimeout, MaxRecipients: cfg.Limits.MaxRoomConnections},
		}
		return h.Handle
	})
}
