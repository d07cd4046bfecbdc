package lambda

import (
	"bytes"
	"io"
	"sync"
)

// maxLineBytes is the longest line kept whole; longer ones are split.
const maxLineBytes = 64 * 1024

// syncWriter serialises writes of whole lines to the pool's output.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(p)
}

// envOutput is one environment's output: its stdout and stderr, copied line
// by line with a prefix naming the environment, and the platform's lines.
type envOutput struct {
	prefix string
	to     *syncWriter
	stdout *lineWriter
	stderr *lineWriter
}

func newEnvOutput(to *syncWriter, prefix string) *envOutput {
	return &envOutput{
		prefix: prefix,
		to:     to,
		stdout: &lineWriter{prefix: prefix, to: to},
		stderr: &lineWriter{prefix: prefix, to: to},
	}
}

// platform writes one line of the platform's own (START, END, REPORT).
func (o *envOutput) platform(line string) {
	o.to.write([]byte(o.prefix + line + "\n"))
}

// flush writes out unterminated last lines once the process has ended.
func (o *envOutput) flush() {
	o.stdout.flush()
	o.stderr.flush()
}

// lineWriter buffers one stream and writes it out a complete line at a
// time, so that lines of concurrent environments never interleave.
type lineWriter struct {
	prefix string
	to     *syncWriter

	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer; it never fails.
func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 && len(l.buf) < maxLineBytes {
			break
		}
		if i < 0 || i > maxLineBytes {
			i = maxLineBytes
			l.emit(l.buf[:i])
			l.buf = l.buf[i:]
			continue
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

// emit writes one line; l.mu is held.
func (l *lineWriter) emit(line []byte) {
	out := make([]byte, 0, len(l.prefix)+len(line)+1)
	out = append(out, l.prefix...)
	out = append(out, bytes.TrimSuffix(line, []byte("\r"))...)
	out = append(out, '\n')
	l.to.write(out)
}
