// Command initprobe does what the login function does at cold start, the
// steps of shared/boot.Init (configuration and logger, AWS SDK
// configuration, DynamoDB client and store) and then secret.Token, one by
// one, and prints how long each step took as one JSON line on stdout; then
// it starts the Lambda runtime client like the functions do. The
// cold-start benchmark runs it next to the real bootstraps to itemise
// their init.
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/secret"
	"github.com/ragchat/ragchat/shared/store"
)

// Steps is the probe's report; the bench decodes it.
type Steps struct {
	MainUnixNano int64   `json:"mainUnixNano"` // when main began
	ConfigMs     float64 `json:"configMs"`     // config.Load and the logger
	AWSMs        float64 `json:"awsMs"`        // config.AWS (the SDK's LoadDefaultConfig)
	SecretMs     float64 `json:"secretMs"`     // secret.Token: TOKEN_SECRET, or a Secrets Manager call
	ClientMs     float64 `json:"clientMs"`     // the DynamoDB client and the store
	DoneUnixNano int64   `json:"doneUnixNano"` // when init ended, before lambda.Start
}

func main() {
	start := time.Now()
	steps := Steps{MainUnixNano: start.UnixNano()}
	lap := func(dst *float64) {
		now := time.Now()
		*dst = float64(now.Sub(start).Microseconds()) / 1000
		start = now
	}
	ctx := context.Background()
	cfg, err := config.Load()
	if err != nil {
		log.Fatalf("config: %v", err)
	}
	cfg.Logger()
	lap(&steps.ConfigMs)
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		log.Fatalf("config: %v", err)
	}
	lap(&steps.AWSMs)
	st := store.New(dynamodb.NewFromConfig(awsCfg), store.Tables(cfg.Tables))
	lap(&steps.ClientMs)
	if _, err := secret.Token(ctx, cfg, awsCfg); err != nil {
		log.Fatalf("secret: %v", err)
	}
	lap(&steps.SecretMs)
	steps.DoneUnixNano = time.Now().UnixNano()
	if err := json.NewEncoder(os.Stdout).Encode(steps); err != nil {
		log.Fatalf("report: %v", err)
	}
	lambda.Start(func(ctx context.Context) (string, error) {
		_, err := st.GetUser(ctx, "probe", "probe")
		return "", err
	})
}
