package rag

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// syntheticStream is an answer of n events of short Korean deltas, framed
// as the trace frames them (or with blank lines and CRLF), ending in [DONE].
func syntheticStream(n int, crlfBlank bool) []byte {
	var b bytes.Buffer
	end := "\n"
	if crlfBlank {
		end = "\r\n\r\n"
	}
	deltas := []string{" 관리비는", " 매월", " 25일에", " 부과됩니다", ".", "\n"}
	for i := range n {
		d, _ := json.Marshal(deltas[i%len(deltas)])
		b.WriteString(`data: {"sessionId": "room-d2dc543d", "delta": `)
		b.Write(d)
		b.WriteString(`, "isComplete": false}`)
		b.WriteString(end)
	}
	b.WriteString("data: [DONE]" + end)
	return b.Bytes()
}

func BenchmarkReader(b *testing.B) {
	trace := readTestdata(b, "trace-response.txt")
	inputs := []struct {
		name string
		in   []byte
	}{
		{"trace", trace},
		{"synthetic-10k-events", syntheticStream(10000, false)},
		{"synthetic-10k-events-crlf-blank", syntheticStream(10000, true)},
		{"one-4MiB-delta", []byte(lines(data(strings.Repeat("가", 4<<20/3)), "data: [DONE]"))},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.in)))
			b.ReportAllocs()
			var events int
			for b.Loop() {
				r := NewReader(bytes.NewReader(in.in))
				events = 0
				for {
					if _, err := r.Next(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
					events++
				}
			}
			b.ReportMetric(float64(events), "events/op")
		})
	}
}
