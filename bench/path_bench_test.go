package bench

import (
	"testing"
	"time"
)

// The relay path benchmarks, for `go test -bench . -benchmem ./bench`;
// `make bench` runs the same functions in process (GoBenchmarks).

func BenchmarkCoalescingPath_NoFloor(b *testing.B) { CoalescingPath(0)(b) }

func BenchmarkCoalescingPath_Floor50ms(b *testing.B) {
	CoalescingPath(50 * time.Millisecond)(b)
}

func BenchmarkOnePostPerDeltaPath(b *testing.B) { OnePostPerDeltaPath(b) }
