// Package boot is the cold start every ragchat function shares: the
// configuration, the JSON logger, the AWS SDK configuration and the store.
// A function whose initialisation fails logs why and exits; Lambda reports
// the init error and starts a new environment for the next request.
package boot

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

// Env is what a function has once its cold start is done.
type Env struct {
	Config config.Config
	Log    *slog.Logger
	AWS    aws.Config
	Store  *store.Store
}

// Init loads the environment of a function, or exits the process.
func Init(ctx context.Context) Env {
	cfg, err := config.Load()
	env := Env{Config: cfg, Log: cfg.Logger()}
	env.Must("load config", err)
	env.AWS, err = config.AWS(ctx)
	env.Must("load AWS config", err)
	env.Store = store.New(dynamodb.NewFromConfig(env.AWS), cfg.Tables)
	return env
}

// Must logs err as the failure of what and exits when err is not nil.
func (e Env) Must(what string, err error) {
	if err != nil {
		e.Log.Error(what, "err", err)
		os.Exit(1)
	}
}
