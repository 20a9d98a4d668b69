package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// NS is an open network namespace.
type NS struct {
	f     *os.File
	Inode uint64
}

// Open opens the network namespace of pid.
func Open(pid int) (*NS, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	return OpenPath("/proc/" + strconv.Itoa(pid) + "/ns/net")
}

// OpenPath opens a namespace file (/proc/PID/ns/net or /run/netns/NAME).
func OpenPath(path string) (*NS, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("%s: %w", path, ErrGone)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return &NS{f: f, Inode: st.Ino}, nil
}

// Fd is the namespace descriptor, valid until Close.
func (n *NS) Fd() int { return int(n.f.Fd()) }

// Close releases the namespace.
func (n *NS) Close() error { return n.f.Close() }

// SelfInode is the inode of the caller's own network namespace.
func SelfInode() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("stat own namespace: %w", err)
	}
	return st.Ino, nil
}

// OwnerUID returns the uid owning the user namespace that owns this network
// namespace (for a rootless Podman container: the rootless user).
func (n *NS) OwnerUID() (int, error) {
	uns, err := unix.IoctlRetInt(n.Fd(), unix.NS_GET_USERNS)
	if err != nil {
		return 0, fmt.Errorf("NS_GET_USERNS: %w", err)
	}
	defer unix.Close(uns)
	var uid uint32
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(uns), uintptr(unix.NS_GET_OWNER_UID), uintptr(unsafePointer(&uid)))
	if errno != 0 {
		return 0, fmt.Errorf("NS_GET_OWNER_UID: %w", errno)
	}
	return int(uid), nil
}

// Do runs fn on an OS thread switched into this namespace; sockets fn opens
// stay in it. The thread is switched back afterwards (or, if that fails,
// retired with its goroutine, never reused).
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own namespace: %w", err)
			return
		}
		defer self.Close()
		if err := unix.Setns(n.Fd(), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it exits with this goroutine.
			errc <- fmt.Errorf("leave namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
