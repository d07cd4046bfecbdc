package bench

import (
	"math"
	"strings"
	"testing"
)

func TestMedianAndPercentile_NearestRank(t *testing.T) {
	tests := []struct {
		name   string
		xs     []float64
		median float64
		p99    float64
	}{
		{"odd count", []float64{3, 1, 2}, 2, 3},
		{"even count averages the middle two", []float64{4, 1, 3, 2}, 2.5, 4},
		{"one value", []float64{7}, 7, 7},
		{"hundred values", seq(100), 50.5, 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.xs); got != tt.median {
				t.Errorf("Median = %v, want %v", got, tt.median)
			}
			if got := Percentile(tt.xs, 99); got != tt.p99 {
				t.Errorf("Percentile(99) = %v, want %v", got, tt.p99)
			}
		})
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(Percentile(nil, 50)) {
		t.Error("no values must give NaN")
	}
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

func TestTable_PadsColumnsToTheWidestCellInRunes(t *testing.T) {
	tb := &Table{Header: []string{"a", "long header"}}
	tb.Add("관리비", 1)
	got := tb.String()
	want := "| a   | long header |\n|-----|-------------|\n| 관리비 | 1           |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(mark(true), "pass") || mark(false) != "MISS" {
		t.Error("marks changed")
	}
}
