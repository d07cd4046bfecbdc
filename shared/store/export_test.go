package store

import "time"

// SetClock makes s read the time from now (tests only).
func SetClock(s *Store, now func() time.Time) { s.now = now }
