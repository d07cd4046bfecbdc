package config

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Limits are the abuse limits (DESIGN.md, "Abuse limits"). Every one is a
// template parameter passed in the environment; the defaults are the
// documented ones.
type Limits struct {
	LoginMaxFailures       int           // LOGIN_MAX_FAILURES per (company, user) and LOGIN_WINDOW, default 5
	LoginSourceMaxFailures int           // LOGIN_SOURCE_MAX_FAILURES per source IP and LOGIN_WINDOW, default 30
	LoginWindow            time.Duration // LOGIN_WINDOW, default 15m

	QuestionBurst      int // QUESTION_BURST: a user's token bucket size, default 30
	QuestionsPerMinute int // QUESTIONS_PER_MINUTE: its refill, default 10

	MaxRoomConnections int // MAX_ROOM_CONNECTIONS: live sockets per room, default 10
	RoomsPerHour       int // ROOMS_PER_HOUR: rooms a user may create per hour, default 20
}

// loadLimits reads the Limits; every count must be a positive integer.
func loadLimits() (Limits, error) {
	var l Limits
	counts := []struct {
		name string
		dst  *int
		def  int
	}{
		{"LOGIN_MAX_FAILURES", &l.LoginMaxFailures, 5},
		{"LOGIN_SOURCE_MAX_FAILURES", &l.LoginSourceMaxFailures, 30},
		{"QUESTION_BURST", &l.QuestionBurst, 30},
		{"QUESTIONS_PER_MINUTE", &l.QuestionsPerMinute, 10},
		{"MAX_ROOM_CONNECTIONS", &l.MaxRoomConnections, 10},
		{"ROOMS_PER_HOUR", &l.RoomsPerHour, 20},
	}
	for _, c := range counts {
		v, err := positive(c.name, c.def)
		if err != nil {
			return Limits{}, err
		}
		*c.dst = v
	}
	w, err := duration("LOGIN_WINDOW", 15*time.Minute)
	if err != nil {
		return Limits{}, err
	}
	if w <= 0 {
		return Limits{}, fmt.Errorf("LOGIN_WINDOW: must be positive")
	}
	l.LoginWindow = w
	return l, nil
}

// positive parses a positive integer.
func positive(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive integer", name, v)
	}
	return n, nil
}
