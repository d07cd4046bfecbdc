package handler

import (
	"context"

	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/secret"
)

// FromEnv builds the Handler the MessageFunction runs, from its cold
// start: env's store, logger, metrics and AWS configuration, the limits
// and relay settings of env.Config, and the RAG client with its bearer
// (loaded now). A configuration it cannot run with (no RAG_URL, a deadline
// margin that leaves the answer no time) stops the start (env.Must).
// functions/message runs what it returns; the benchmarks' one-post-per-delta
// competitor (bench/cmd/baseline-message) changes only its relay
// (baseline.New).
func FromEnv(ctx context.Context, env boot.Env) *Handler {
	cfg := env.Config
	env.Require("RAG_URL", cfg.RAGURL)
	env.Must("load config", CheckDeadlineMargin(cfg.DeadlineMargin, cfg.FunctionTimeout))
	bearer := boot.Load(ctx, env, "load the RAG bearer", secret.RAGBearer)
	ragClient := rag.NewClient(cfg.RAGURL, cfg.RAGSysInfo, rag.Timeouts{Connect: cfg.RAGConnectTimeout, FirstEvent: cfg.RAGFirstEventTimeout, Idle: cfg.RAGIdleTimeout}, nil)
	return &Handler{
		Conns: env.Store, History: env.Store, Rooms: env.Store, Limits: LimitsFrom(cfg.Limits, env.Store), Users: env.Store, Log: env.Log, CallbackURL: cfg.CallbackURL, DeadlineMargin: cfg.DeadlineMargin, Metrics: env.Metrics,
		RAG:    ragClient.WithBearer(bearer),
		Poster: relay.NewClients(env.AWS).For,
		Relay:  relay.Options{MinFrameInterval: cfg.MinFrameInterval, PostTimeout: cfg.PostTimeout, MaxRecipients: cfg.Limits.MaxRoomConnections},
	}
}
