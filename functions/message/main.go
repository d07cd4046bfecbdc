// Command message is the Lambda of the websocket routes sendMessage and
// $default: it streams RAG answers to the room (see Handler).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
	if cfg.RAGURL == "" {
		log.Fatal("config: RAG_URL is not set")
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), cfg.Tables)
	h := &Handler{
		Conns: st, History: st, Log: cfg.Logger(), CallbackURL: cfg.CallbackURL, DeadlineMargin: cfg.DeadlineMargin,
		RAG:    rag.NewClient(cfg.RAGURL, cfg.RAGSysInfo, rag.Timeouts{Connect: cfg.RAGConnectTimeout, FirstEvent: cfg.RAGFirstEventTimeout, Idle: cfg.RAGIdleTimeout}, nil),
		Poster: relay.NewClients(awsCfg).For,
		Relay:  relay.Options{MinFrameInterval: cfg.MinFrameInterval},
	}
	lambda.Start(h.Handle)
}
