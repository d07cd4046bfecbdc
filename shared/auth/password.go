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
// knows: Production compares against it when there is no user.
const dummyHash = "$2a$10$lWqGQKL8oZ5QmDgYUG3X8.Q28NwRBEOUp0mT/dSLIZ0Sd5JKToI0u"

// Passwords hashes passwords with bcrypt at one cost and checks them. It
// holds a dummy hash of the same cost, so that checking against no user
// takes as long as checking a wrong password. It is safe for concurrent use.
type Passwords struct {
	cost  int
	dummy []byte
}

// Production is what every ragchat function and tool uses: cost HashCost.
var Production = &Passwords{cost: HashCost, dummy: []byte(dummyHash)}

// NewPasswords returns Passwords hashing at cost (bcrypt.MinCost to
// bcrypt.MaxCost), computing its dummy hash. Tests use it for a cheap cost;
// deployed code uses Production.
func NewPasswords(cost int) (*Passwords, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d out of range [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("ragchat dummy password"), cost)
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of password. Empty passwords and passwords
// longer than MaxPasswordLen bytes are refused.
func (p *Passwords) Hash(password string) (string, error) {
	if password == "" {
		return "", errors.New("hash password: empty password")
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("hash password: longer than %d bytes", MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Check reports whether password matches hash. An empty hash (no such
// user) is compared against the dummy hash and never matches, taking the
// same time as a real comparison at this cost.
func (p *Passwords) Check(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
