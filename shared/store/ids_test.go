package store

import (
	"regexp"
	"strings"
	"testing"
)

func TestNewIDs_ArePrefixAndRandomLowercaseHex(t *testing.T) {
	tests := []struct {
		name string
		new  func() string
		re   *regexp.Regexp
	}{
		{"NewRoomID", func() string {
			id := NewRoomID()
			if !ValidRoomID(id) {
				t.Fatalf("NewRoomID = %q, not a valid room id", id)
			}
			return id
		}, regexp.MustCompile(`^room-[0-9a-f]{8}$`)},
		{"NewMessageID", NewMessageID, regexp.MustCompile(`^m-[0-9a-f]{16}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 100 {
				id := tt.new()
				if !tt.re.MatchString(id) {
					t.Fatalf("%s = %q", tt.name, id)
				}
				seen[id] = true
			}
			if len(seen) < 99 {
				t.Fatalf("only %d distinct ids in 100", len(seen))
			}
		})
	}
}

func TestValidIDs(t *testing.T) {
	cases := []struct {
		valid func(string) bool
		in    string
		want  bool
	}{
		{ValidCompanyID, "apt001", true},
		{ValidCompanyID, "APT_001-x", true},
		{ValidCompanyID, strings.Repeat("a", 64), true},
		{ValidCompanyID, strings.Repeat("a", 65), false},
		{ValidCompanyID, "", false},
		{ValidCompanyID, "apt/001", false},
		{ValidCompanyID, "apt#001", false},
		{ValidCompanyID, "아파트", false},
		{ValidCompanyID, "-apt", false},
		{ValidCompanyID, "apt001\n", false},
		{ValidUserID, "hong2", true},
		{ValidUserID, "hong.gil+1@example.com", true},
		{ValidUserID, strings.Repeat("u", 128), true},
		{ValidUserID, strings.Repeat("u", 129), false},
		{ValidUserID, "hong2#x", false},
		{ValidUserID, "' OR '1'='1", false},
		{ValidUserID, "hong 2", false},
		{ValidUserID, ".hong", false},
		{ValidUserID, "홍길동", false},
		{ValidRoomID, "room-52d2b5b6", true},
		{ValidRoomID, "room-52d2b5b6/../x", false},
		{ValidRoomID, "", false},
		{ValidRoomID, "room\x00", false},
	}
	for _, c := range cases {
		if got := c.valid(c.in); got != c.want {
			t.Errorf("valid(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestMessageSK_SortsByTimeThenID(t *testing.T) {
	if got := messageSK(1769145304307, "m-1"); got != "1769145304307#m-1" {
		t.Fatalf("messageSK = %q", got)
	}
	if a, b := messageSK(999, "m"), messageSK(1000, "m"); a >= b {
		t.Fatalf("%q sorts after %q", a, b)
	}
}
