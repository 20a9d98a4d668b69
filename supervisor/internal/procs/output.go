package procs

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// Console is the supervisor's own stdout shared by every program: whole
// lines, each prefixed with the process name, never interleaved mid-line.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole writes prefixed program output to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// line writes "name | text\n".
func (c *Console) line(name string, text []byte) {
	if c == nil {
		return
	}
	buf := make([]byte, 0, len(name)+len(text)+4)
	buf = append(buf, name...)
	buf = append(buf, " | "...)
	buf = append(buf, text...)
	buf = append(buf, '\n')
	c.mu.Lock()
	c.w.Write(buf)
	c.mu.Unlock()
}

// maxLine is where a line without newline is cut for the console.
const maxLine = 64 * 1024

// pump copies a child's pipe to its log file and, when prefix is on, to
// the console line by line. It returns at EOF (every writer closed).
func pump(r *os.File, name string, file io.Writer, console *Console, prefix bool) {
	defer r.Close()
	buf := make([]byte, 32*1024)
	var pending []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if file != nil {
				file.Write(chunk)
			}
			if prefix && console != nil {
				pending = append(pending, chunk...)
				for {
					i := bytes.IndexByte(pending, '\n')
					if i < 0 {
						break
					}
					console.line(name, pending[:i])
					pending = pending[i+1:]
				}
				if len(pending) > maxLine {
					console.line(name, pending)
					pending = pending[:0]
				}
				pending = append([]byte(nil), pending...)
			}
		}
		if err != nil {
			if len(pending) > 0 {
				console.line(name, pending)
			}
			return
		}
	}
}
