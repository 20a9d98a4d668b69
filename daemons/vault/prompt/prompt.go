package prompt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ErrTooLong marks input beyond the limit.
var ErrTooLong = errors.New("input too long")

// Secret reads one value: when in is a terminal it writes question to
// out and reads a line with echo off; otherwise it reads in to its end.
// Surrounding white space (a final newline) is dropped. At most limit
// bytes are taken.
func Secret(in *os.File, out io.Writer, question string, limit int) ([]byte, error) {
	if fd := int(in.Fd()); term.IsTerminal(fd) {
		// Echo goes off before the question shows: what is typed (or
		// pasted) the moment it appears must not show either.
		restore, err := echoOff(fd)
		if err != nil {
			return nil, fmt.Errorf("turn the terminal's echo off: %w", err)
		}
		defer restore()
		fmt.Fprint(out, question)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(out)
		if err != nil {
			return nil, fmt.Errorf("read from the terminal: %w", err)
		}
		if len(b) > limit {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLong, limit)
		}
		return bytes.TrimSpace(b), nil
	}
	return Read(in, limit)
}

// Read reads r to its end (at most limit bytes) without surrounding
// white space.
func Read(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLong, limit)
	}
	return bytes.TrimSpace(b), nil
}

// echoOff turns the terminal's echo off (line editing stays) and returns
// how to restore the terminal as it was.
func echoOff(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
