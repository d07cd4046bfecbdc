// Command login is the LoginFunction Lambda: POST /api/customer/{companyId}/login.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/secret"
	"github.com/ragchat/ragchat/shared/store"
)

func main() {
	ctx := context.Background()
	cfg, err := config.Load()
	log := cfg.Logger()
	if err != nil {
		log.Error("load config", "err", err)
		os.Exit(1)
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		log.Error("load AWS config", "err", err)
		os.Exit(1)
	}
	key, err := secret.Token(ctx, cfg, awsCfg)
	if err != nil {
		log.Error("load token secret", "err", err)
		os.Exit(1)
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), cfg.Tables)
	lambda.Start(newHandler(st, auth.NewTokens(key, cfg.TokenTTL), auth.Production, log).Handle)
}
