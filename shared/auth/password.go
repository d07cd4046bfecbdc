package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// HashCost is the bcrypt cost of every password hash ragchat writes.
const HashCost = 10

// MaxPasswordLen is the longest password in bytes that bcrypt can hash.
const MaxPasswordLen = 72

// dummyHash is a bcrypt hash (cost HashCost) of a random string nobody
// knows. CheckPassword compares against it when there is no user, so that
// an unknown user costs the same time as a wrong password.
const dummyHash = "$2a$10$lWqGQKL8oZ5QmDgYUG3X8.Q28NwRBEOUp0mT/dSLIZ0Sd5JKToI0u"

// HashPassword returns the bcrypt hash of password at HashCost. Empty
// passwords and passwords longer than MaxPasswordLen bytes are refused.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("hash password: empty password")
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("hash password: longer than %d bytes", MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), HashCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash. An empty hash (no
// such user) is compared against a dummy hash and never matches, taking the
// same time as a real comparison.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
