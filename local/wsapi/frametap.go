package wsapi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// frameScanner follows the frame headers of the client-to-server byte
// stream of a WebSocket (uncompressed, so wire length is payload length) and
// reports each frame's opcode and payload length before its payload passes.
// It only observes; the bytes reach the WebSocket library unchanged.
type frameScanner struct {
	onFrame func(opcode byte, length int64)

	hdr  [14]byte
	n    int   // header bytes collected
	need int   // full header length, known once n >= 2
	skip int64 // payload bytes of the current frame still to pass
}

func (f *frameScanner) scan(b []byte) {
	for len(b) > 0 {
		if f.skip > 0 {
			k := min(int64(len(b)), f.skip)
			f.skip -= k
			b = b[k:]
			continue
		}
		f.hdr[f.n] = b[0]
		f.n++
		b = b[1:]
		if f.n == 2 {
			f.need = 2
			switch f.hdr[1] & 0x7f {
			case 126:
				f.need += 2
			case 127:
				f.need += 8
			}
			if f.hdr[1]&0x80 != 0 {
				f.need += 4 // masking key
			}
		}
		if f.n < 2 || f.n < f.need {
			continue
		}
		var length int64
		switch l := f.hdr[1] & 0x7f; l {
		case 126:
			length = int64(binary.BigEndian.Uint16(f.hdr[2:4]))
		case 127:
			length = int64(binary.BigEndian.Uint64(f.hdr[2:10]) &^ (1 << 63))
		default:
			length = int64(l)
		}
		f.onFrame(f.hdr[0]&0x0f, length)
		f.skip, f.n, f.need = length, 0, 0
	}
}

// hijackTap hands the WebSocket library a hijacked connection whose reads
// pass through a frameScanner.
type hijackTap struct {
	http.ResponseWriter
	scan *frameScanner
}

// Hijack implements http.Hijacker over the wrapped writer.
func (h *hijackTap) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	// The http.Server's read and write timeouts must not end the socket.
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, nil, fmt.Errorf("hijack: clear deadlines: %w", err)
	}
	buffered, err := brw.Reader.Peek(brw.Reader.Buffered())
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: read buffered bytes: %w", err)
	}
	tc := &tapConn{Conn: nc, r: io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), nc), scan: h.scan}
	return tc, bufio.NewReadWriter(bufio.NewReader(tc), brw.Writer), nil
}

// tapConn is a net.Conn whose reads are scanned.
type tapConn struct {
	net.Conn
	r    io.Reader
	scan *frameScanner
}

func (t *tapConn) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.scan.scan(p[:n])
	return n, err
}
