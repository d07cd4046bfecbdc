// Command disconnect is the DisconnectFunction Lambda: the websocket $disconnect route.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

func main() {
	cfg, err := config.Load()
	log := cfg.Logger()
	if err != nil {
		log.Error("load config", "err", err)
		os.Exit(1)
	}
	awsCfg, err := config.AWS(context.Background())
	if err != nil {
		log.Error("load AWS config", "err", err)
		os.Exit(1)
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), cfg.Tables)
	lambda.Start(newHandler(st, log).Handle)
}
