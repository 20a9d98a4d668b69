package smarthttp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// command is one ref update of a push.
type command struct {
	Old, New, Ref string
}

// maxCommands bounds the command section of a push (bytes).
const maxCommands = 8 << 20

// readCommands reads the command list of a receive-pack request up to its
// flush-pkt and returns the commands with the raw bytes consumed, so the
// caller can replay them to git followed by the rest of the body.
func readCommands(br *bufio.Reader) ([]command, []byte, error) {
	var raw bytes.Buffer
	var cmds []command
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF && raw.Len() == 0 {
				return nil, nil, fmt.Errorf("%w: empty push request", ErrMalformed)
			}
			return nil, nil, fmt.Errorf("%w: push request ends inside the command list", ErrMalformed)
		}
		raw.Write(hdr[:])
		l, ok := parseHex4(hdr[:])
		if !ok {
			return nil, nil, fmt.Errorf("%w: bad length %q", ErrMalformed, hdr[:])
		}
		if l == 0 {
			return cmds, raw.Bytes(), nil
		}
		if l < 4 || l > maxPkt {
			return nil, nil, fmt.Errorf("%w: length %d out of range", ErrMalformed, l)
		}
		if raw.Len()+l > maxCommands {
			return nil, nil, fmt.Errorf("%w: command list over %d bytes", ErrTooLarge, maxCommands)
		}
		payload := make([]byte, l-4)
		if _, err := io.ReadFull(br, payload); err != nil {
			return nil, nil, fmt.Errorf("%w: push request ends inside a pkt-line", ErrMalformed)
		}
		raw.Write(payload)
		line := string(payload)
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "shallow ") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || len(f[0]) != 40 || len(f[1]) != 40 {
			return nil, nil, fmt.Errorf("%w: bad push command %q", ErrMalformed, truncate(line, 100))
		}
		cmds = append(cmds, command{Old: f[0], New: f[1], Ref: f[2]})
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
