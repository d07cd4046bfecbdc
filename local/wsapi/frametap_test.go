package wsapi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// clientFrame encodes a masked client frame header followed by payload.
func clientFrame(opcode byte, fin bool, payload []byte) []byte {
	var b bytes.Buffer
	first := opcode
	if fin {
		first |= 0x80
	}
	b.WriteByte(first)
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(0x80 | byte(n))
	case n <= 0xffff:
		b.WriteByte(0x80 | 126)
		_ = binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(0x80 | 127)
		_ = binary.Write(&b, binary.BigEndian, uint64(n))
	}
	b.Write([]byte{1, 2, 3, 4}) // masking key; the scanner never unmasks
	b.Write(payload)
	return b.Bytes()
}

func TestFrameScanner_ReportsEveryFrameWhateverTheReadSizes(t *testing.T) {
	var stream []byte
	type frame struct {
		op  byte
		len int64
	}
	var want []frame
	for _, f := range []struct {
		op  byte
		fin bool
		n   int
	}{{1, false, 0}, {0, false, 125}, {0, false, 126}, {9, true, 4}, {0, true, 70000}, {2, true, 1}, {8, true, 2}} {
		stream = append(stream, clientFrame(f.op, f.fin, bytes.Repeat([]byte{0x81}, f.n))...)
		want = append(want, frame{f.op, int64(f.n)})
	}
	for _, chunk := range []int{1, 2, 3, 7, 125, 4096, len(stream)} {
		t.Run(fmt.Sprintf("reads of %d bytes", chunk), func(t *testing.T) {
			var got []frame
			sc := &frameScanner{onFrame: func(op byte, n int64) { got = append(got, frame{op, n}) }}
			for b := stream; len(b) > 0; {
				k := min(chunk, len(b))
				sc.scan(b[:k])
				b = b[k:]
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("frames = %v, want %v", got, want)
			}
		})
	}
}
