package auth

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPassword_HashMatchesOnlyItsPassword(t *testing.T) {
	h, err := HashPassword("1234")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != HashCost {
		t.Fatalf("cost = %d, %v; want %d", cost, err, HashCost)
	}
	if !CheckPassword(h, "1234") {
		t.Error("right password refused")
	}
	for _, wrong := range []string{"", "12345", "123", "1234 "} {
		if CheckPassword(h, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
}

func TestPassword_UnknownUserNeverMatchesAndCostsTheSame(t *testing.T) {
	if CheckPassword("", "") || CheckPassword("", "1234") {
		t.Fatal("empty hash matched")
	}
	// Equal cost means equal work: the dummy comparison is as slow as a real one.
	if cost, err := bcrypt.Cost([]byte(dummyHash)); err != nil || cost != HashCost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", cost, err, HashCost)
	}
}

func TestPassword_HashRefusesEmptyAndTooLong(t *testing.T) {
	for _, pw := range []string{"", strings.Repeat("a", MaxPasswordLen+1)} {
		if _, err := HashPassword(pw); err == nil {
			t.Errorf("HashPassword(%d bytes) succeeded", len(pw))
		}
	}
	if _, err := HashPassword(strings.Repeat("가", MaxPasswordLen/3)); err != nil {
		t.Errorf("72-byte password refused: %v", err)
	}
}
