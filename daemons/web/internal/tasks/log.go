package tasks

import (
	"errors"
	"io/fs"
	"os"
)

// OpenLog opens a task's log file for reading; a task that has written
// nothing yet has none (nil, nil).
func (s *Store) OpenLog(r Record) (*os.File, error) {
	f, err := os.Open(s.LogPath(r))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// TailOffset returns where the last n lines of f start (0 for n larger
// than the file's lines; the size for n == 0). A final newline ends the
// last line rather than starting another; a last line without one counts.
func TailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if n == 0 {
		return size, nil
	}
	pos := size
	if size > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, size-1); err != nil {
			return 0, err
		}
		if b[0] == '\n' {
			pos--
		}
	}
	buf := make([]byte, 64<<10)
	lines := 0
	for pos > 0 {
		k := min(int64(len(buf)), pos)
		if _, err := f.ReadAt(buf[:k], pos-k); err != nil {
			return 0, err
		}
		for i := k - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				lines++
				if lines == n {
					return pos - k + i + 1, nil
				}
			}
		}
		pos -= k
	}
	return 0, nil
}
