package auth

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswords_ProductionHashesAtHashCostAndMatchesOnlyItsPassword(t *testing.T) {
	h, err := Production.Hash("1234")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != HashCost {
		t.Fatalf("cost = %d, %v; want %d", cost, err, HashCost)
	}
	if !Production.Check(h, "1234") {
		t.Error("right password refused")
	}
	for _, wrong := range []string{"", "12345", "123", "1234 "} {
		if Production.Check(h, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
}

func TestPasswords_UnknownUserNeverMatchesAndCostsTheSame(t *testing.T) {
	cheap, err := NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    *Passwords
		cost int
	}{{Production, HashCost}, {cheap, bcrypt.MinCost}} {
		if c.p.Check("", "") || c.p.Check("", "1234") || c.p.Check("", "ragchat dummy password") {
			t.Fatal("empty hash matched")
		}
		// Equal cost means equal work: the dummy comparison is as slow as a real one.
		if cost, err := bcrypt.Cost(c.p.dummy); err != nil || cost != c.cost {
			t.Fatalf("dummy hash cost = %d, %v; want %d", cost, err, c.cost)
		}
	}
}

func TestPasswords_HashRefusesEmptyAndTooLong(t *testing.T) {
	p, err := NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", strings.Repeat("a", MaxPasswordLen+1)} {
		if _, err := p.Hash(pw); err == nil {
			t.Errorf("Hash(%d bytes) succeeded", len(pw))
		}
	}
	if _, err := p.Hash(strings.Repeat("가", MaxPasswordLen/3)); err != nil {
		t.Errorf("72-byte password refused: %v", err)
	}
}

func TestNewPasswords_RefusesCostOutOfRange(t *testing.T) {
	for _, cost := range []int{bcrypt.MinCost - 1, bcrypt.MaxCost + 1} {
		if _, err := NewPasswords(cost); err == nil {
			t.Errorf("NewPasswords(%d) succeeded", cost)
		}
	}
}
