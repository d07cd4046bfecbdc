// Command login is the LoginFunction Lambda: POST /api/customer/{companyId}/login.
package main

import (
	"context"

	"github.com/ragchat/ragchat/functions/login/handler"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.Start(func(ctx context.Context, env boot.Env) any {
		tokens := boot.Load(ctx, env, "load token secret", secret.Tokens)
		h := handler.New(env.Store, tokens, auth.Production, handler.LockoutFrom(env.Config.Limits), env.Log)
		h.Metrics = env.Metrics
		return h.Handle
	})
}
