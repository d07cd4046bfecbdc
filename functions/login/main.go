// Command login is the LoginFunction Lambda: POST /api/customer/{companyId}/login.
package main

import (
	"github.com/ragchat/ragchat/functions/login/handler"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/boot"
	"github.com/ragchat/ragchat/shared/secret"
)

func main() {
	boot.StartWith("load token secret", secret.Tokens, func(env boot.Env, tokens *auth.Tokens) any {
		h := handler.New(env.Store, tokens, auth.Production, handler.LockoutFrom(env.Config.Limits), env.Log)
		h.Metrics = env.Metrics
		return h.Handle
	})
}
