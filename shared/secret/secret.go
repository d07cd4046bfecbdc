// Package secret fetches the secrets a function reads once per cold start:
// the token-signing key and the RAG service's bearer. It is apart from
// config so that the functions that need neither (disconnect) do not link
// the Secrets Manager client.
package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/config"
)

// MinLen is the shortest token-signing key a function accepts.
const MinLen = 32

// Token returns the current token-signing key (see keys).
func Token(ctx context.Context, cfg config.Config, awsCfg aws.Config) ([]byte, error) {
	current, _, err := keys(ctx, cfg, awsCfg)
	return current, err
}

// keys returns the token-signing keys: the current one, which signs, and
// during a rotation the previous one, which still verifies. The value is
// TOKEN_SECRET when set, otherwise the Secrets Manager secret
// TOKEN_SECRET_ARN (one call, made at cold start): either the key itself
// or {"current":"<key>","previous":"<key>"} (README, "Rotating the token
// key"). A key shorter than MinLen is refused, so a function without a
// proper key does not start.
func keys(ctx context.Context, cfg config.Config, awsCfg aws.Config) (current, previous []byte, err error) {
	value, err := tokenSecret(ctx, cfg, awsCfg)
	if err != nil {
		return nil, nil, err
	}
	cur, prev := value, ""
	if strings.HasPrefix(strings.TrimSpace(value), "{") {
		var pair struct {
			Current  string `json:"current"`
			Previous string `json:"previous"`
		}
		if err := json.Unmarshal([]byte(value), &pair); err != nil {
			return nil, nil, errors.New("token secret: a JSON value must be {\"current\":\"...\",\"previous\":\"...\"}")
		}
		cur, prev = pair.Current, pair.Previous
		if prev != "" && len(prev) < MinLen {
			return nil, nil, fmt.Errorf("token secret: previous key of %d bytes, need at least %d", len(prev), MinLen)
		}
	}
	if len(cur) < MinLen {
		return nil, nil, fmt.Errorf("token secret: %d bytes, need at least %d", len(cur), MinLen)
	}
	if prev == "" {
		return []byte(cur), nil, nil
	}
	return []byte(cur), []byte(prev), nil
}

// tokenSecret is the raw value of TOKEN_SECRET or TOKEN_SECRET_ARN's secret.
func tokenSecret(ctx context.Context, cfg config.Config, awsCfg aws.Config) (string, error) {
	key := cfg.TokenSecret
	if key == "" {
		if cfg.TokenSecretARN == "" {
			return "", fmt.Errorf("token secret: neither TOKEN_SECRET nor TOKEN_SECRET_ARN is set")
		}
		out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx,
			&secretsmanager.GetSecretValueInput{SecretId: aws.String(cfg.TokenSecretARN)})
		if err != nil {
			return "", fmt.Errorf("token secret: get %s: %w", cfg.TokenSecretARN, err)
		}
		key = aws.ToString(out.SecretString)
	}
	return key, nil
}

// RAGBearer returns the RAG service's bearer token: RAG_AUTH_TOKEN when
// set, otherwise the value of the Secrets Manager secret
// RAG_AUTH_SECRET_ARN (one call, made at cold start), otherwise "" (the
// service takes no credential). Errors never hold the secret's value.
func RAGBearer(ctx context.Context, cfg config.Config, awsCfg aws.Config) (string, error) {
	if cfg.RAGAuthToken != "" || cfg.RAGAuthSecretARN == "" {
		return cfg.RAGAuthToken, nil
	}
	out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx,
		&secretsmanager.GetSecretValueInput{SecretId: aws.String(cfg.RAGAuthSecretARN)})
	if err != nil {
		return "", fmt.Errorf("RAG bearer: get %s: %w", cfg.RAGAuthSecretARN, err)
	}
	v := aws.ToString(out.SecretString)
	if v == "" {
		return "", fmt.Errorf("RAG bearer: secret %s is empty", cfg.RAGAuthSecretARN)
	}
	return v, nil
}

// Tokens returns the token signer and verifier of the key Token returns,
// issuing tokens that live cfg.TokenTTL.
func Tokens(ctx context.Context, cfg config.Config, awsCfg aws.Config) (*auth.Tokens, error) {
	current, previous, err := keys(ctx, cfg, awsCfg)
	if err != nil {
		return nil, err
	}
	return auth.NewTokens(current, cfg.TokenTTL).WithPrevious(previous), nil
}
