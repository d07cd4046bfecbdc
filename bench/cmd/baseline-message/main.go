// Command baseline-message is the one-post-per-delta message Lambda the
// benchmarks run next to the real MessageFunction (see bench/baseline). It
// reads the same environment as the message function.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/bench/baseline"
	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		log.Fatalf("config: %v", err)
	}
	awsCfg, err := config.AWS(context.Background())
	if err != nil {
		log.Fatalf("config: %v", err)
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), store.Tables(cfg.Tables))
	h := &baseline.Handler{
		Conns: st, History: st, Log: cfg.Logger(), CallbackURL: cfg.CallbackURL, DeadlineMargin: cfg.DeadlineMargin,
		RAG:    rag.NewClient(cfg.RAGURL, cfg.RAGSysInfo, rag.Timeouts{Connect: cfg.RAGConnectTimeout, FirstEvent: cfg.RAGFirstEventTimeout, Idle: cfg.RAGIdleTimeout}, nil),
		Poster: relay.NewClients(awsCfg).For,
	}
	lambda.Start(h.Handle)
}
