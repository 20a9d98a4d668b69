package procs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// LogMode is the mode of every log file the supervisor writes: program
// output can hold secrets (a token a daemon prints, an agent's output), so
// only the supervisor's user (root in the image) reads the files; others
// read logs through the control socket (supervisorctl tail).
const LogMode = 0o600

// LogDirMode is the mode of a log directory the supervisor creates.
const LogDirMode = 0o700

// LogFile is a size-rotated log file.
type LogFile interface {
	io.WriteCloser
}

// NewLogFile opens (appending) a log file rotated at maxBytes (0: never)
// keeping backups old files, as the supervisor's own logfile= is.
func NewLogFile(path string, maxBytes int64, backups int) LogFile {
	return newFileLog(path, maxBytes, backups)
}

// fileLog appends to a log file, mode LogMode, and rotates it by size:
// at maxBytes, path.N-1 becomes path.N … path becomes path.1 (at most
// backups files; path.1 is kept even with backups = 0, as the logger of
// ochinchina/supervisord this replaces did) and a new empty file starts.
// A symlink where the file should be is never followed (O_NOFOLLOW): the
// write fails and the output is dropped rather than written elsewhere.
type fileLog struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	backups  int
	f        *os.File
	size     int64
	err      error // why the file is not open (reported once per open try)
}

// newFileLog opens path for appending; maxBytes 0 means no rotation as in
// Python. A missing directory is created with mode LogDirMode.
func newFileLog(path string, maxBytes int64, backups int) *fileLog {
	if maxBytes <= 0 {
		maxBytes = 1 << 62
	}
	if err := os.MkdirAll(filepath.Dir(path), LogDirMode); err != nil {
		fmt.Fprintf(os.Stderr, "terok-supervisord: log directory of %s: %v\n", path, err)
	}
	l := &fileLog{path: path, maxBytes: maxBytes, backups: backups}
	l.open(false)
	return l
}

// openLogFile opens path for appending (or truncated) without following a
// symlink, as a regular file of mode LogMode: an older file with a wider
// mode is narrowed.
func openLogFile(path string, trunc bool) (*os.File, int64, error) {
	flags := unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	if trunc {
		flags |= unix.O_TRUNC
	}
	fd, err := unix.Open(path, flags, LogMode)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, 0, fmt.Errorf("log file %s is a symlink; remove it (log files are never written through one)", path)
		}
		return nil, 0, fmt.Errorf("open log file %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("stat log file %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("log file %s is not a regular file; remove it or point the log elsewhere", path)
	}
	if st.Mode&0o777 != LogMode {
		_ = unix.Fchmod(fd, LogMode)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	return os.NewFile(uintptr(fd), path), st.Size, nil
}

// open (re)opens the file; callers hold mu (or own l alone).
func (l *fileLog) open(trunc bool) error {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	f, size, err := openLogFile(l.path, trunc)
	if err != nil {
		if l.err == nil || l.err.Error() != err.Error() {
			fmt.Fprintf(os.Stderr, "terok-supervisord: %v\n", err)
		}
		l.err = err
		return err
	}
	l.f, l.size, l.err = f, size, nil
	return nil
}

// Write appends p, rotating the file when it grows past its limit.
func (l *fileLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		if err := l.open(false); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	if err != nil {
		return n, err
	}
	if l.size >= l.maxBytes {
		l.f.Close()
		l.f = nil
		l.rotate()
		l.open(true)
	}
	return n, nil
}

// rotate shifts path.N-1 → path.N … path → path.1. Renames replace the
// names themselves and never follow a symlink.
func (l *fileLog) rotate() {
	for i := l.backups - 1; i > 0; i-- {
		src := fmt.Sprintf("%s.%d", l.path, i)
		if _, err := os.Lstat(src); err == nil {
			os.Rename(src, fmt.Sprintf("%s.%d", l.path, i+1))
		}
	}
	os.Rename(l.path, l.path+".1")
}

// Close closes the file.
func (l *fileLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ClearAllLogFile truncates the file and removes its backups.
func (l *fileLog) ClearAllLogFile() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := l.backups; i > 0; i-- {
		b := fmt.Sprintf("%s.%d", l.path, i)
		if err := os.Remove(b); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return l.open(true)
}
