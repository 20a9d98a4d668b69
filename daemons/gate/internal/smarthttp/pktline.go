package smarthttp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// maxPkt is the largest pkt-line git sends (length header included).
const maxPkt = 65520

// pktValidator passes bytes through and checks that they form a sequence
// of well-formed pkt-lines. After a bad header every Read fails with
// ErrMalformed, so git sees its stdin end and the handler can tell why.
type pktValidator struct {
	r    io.Reader
	hdr  [4]byte
	nhdr int
	left int // payload bytes still to pass of the current packet
	err  error
}

func (v *pktValidator) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	for i := 0; i < n; {
		if v.left > 0 {
			step := min(v.left, n-i)
			v.left -= step
			i += step
			continue
		}
		v.hdr[v.nhdr] = p[i]
		v.nhdr++
		i++
		if v.nhdr < 4 {
			continue
		}
		v.nhdr = 0
		l, ok := parseHex4(v.hdr[:])
		switch {
		case !ok:
			v.err = fmt.Errorf("%w: bad length %q", ErrMalformed, v.hdr[:])
		case l == 0 || l == 1 || l == 2: // flush, delim, response-end
		case l < 4 || l > maxPkt:
			v.err = fmt.Errorf("%w: length %d out of range", ErrMalformed, l)
		default:
			v.left = l - 4
		}
		if v.err != nil {
			return 0, v.err
		}
	}
	if err == io.EOF && (v.left > 0 || v.nhdr > 0) {
		v.err = fmt.Errorf("%w: body ends inside a pkt-line", ErrMalformed)
		return n, v.err
	}
	return n, err
}

func parseHex4(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			n |= int(c-'A') + 10
		default:
			return 0, false
		}
	}
	return n, true
}

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
