package nsdial

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Options tune Start.
type Options struct {
	// Nsenter is util-linux's nsenter (default: found on PATH).
	Nsenter string
	// Command is what nsenter runs inside the namespaces: terok-web's
	// relay mode, e.g. {"/usr/local/bin/terok-web", "netns-relay"}.
	Command []string
	// Credential runs nsenter as another user (tests running as root run
	// it as the Podman user, as terok-web runs); nil: as this process.
	Credential *syscall.Credential
}

// Relay is one relay process in one container's namespaces. It is safe
// for concurrent use.
type Relay struct {
	ctl  *net.UnixConn
	cmd  *exec.Cmd
	done chan struct{} // closed when the reader stops (relay gone)

	mu      sync.Mutex
	next    uint32
	pending map[uint32]chan result
	err     error
}

type result struct {
	conn net.Conn
	err  error
}

// Start runs a relay in the namespaces of pid. verify, when not nil, is
// called after the namespace files are open and must confirm pid is still
// the container's (a pid reused meanwhile would lead elsewhere).
func Start(ctx context.Context, pid int, verify func(context.Context) error, o Options) (*Relay, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("start the relay: no pid (is the task running?)")
	}
	if len(o.Command) == 0 {
		return nil, fmt.Errorf("start the relay: no relay command")
	}
	nsenter := o.Nsenter
	if nsenter == "" {
		p, err := exec.LookPath("nsenter")
		if err != nil {
			return nil, fmt.Errorf("start the relay: nsenter not found (util-linux): %w", err)
		}
		nsenter = p
	}
	// setpriv (util-linux too) empties the bounding and inheritable sets
	// and sets no_new_privs before the relay is executed, so every thread
	// of the relay starts without a capability (its own drop in Serve is
	// per thread, and a Go program has several before main).
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return nil, fmt.Errorf("start the relay: setpriv not found (util-linux): %w", err)
	}
	userNS, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("open the user namespace of pid %d: %w", pid, err)
	}
	defer userNS.Close()
	netNS, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open the network namespace of pid %d: %w", pid, err)
	}
	defer netNS.Close()
	if verify != nil {
		if err := verify(ctx); err != nil {
			return nil, err
		}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "relay-ctl"), os.NewFile(uintptr(fds[1]), "relay-ctl-child")
	defer theirs.Close()
	args := append([]string{"--user=/proc/self/fd/4", "--net=/proc/self/fd/5", "--preserve-credentials", "--",
		setpriv, "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"}, o.Command...)
	cmd := exec.Command(nsenter, args...)
	cmd.ExtraFiles = []*os.File{theirs, userNS, netNS} // fds 3, 4, 5
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: o.Credential, Setpgid: true}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		mine.Close()
		return nil, fmt.Errorf("start the relay (%s): %w", nsenter, err)
	}
	fc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("relay control socket: %w", err)
	}
	r := &Relay{ctl: fc.(*net.UnixConn), cmd: cmd, done: make(chan struct{}), pending: map[uint32]chan result{}}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	go r.read(exited, &stderr)
	return r, nil
}

// read dispatches the relay's answers until its socket ends.
func (r *Relay) read(exited chan error, stderr *limitedBuffer) {
	defer close(r.done)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	var err error
	for {
		var n, oobn int
		n, oobn, _, _, err = r.ctl.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			if err == nil {
				err = errors.New("end of stream")
			}
			break
		}
		var fd = -1
		if oobn > 0 {
			if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
				for _, m := range msgs {
					if rights, rerr := unix.ParseUnixRights(&m); rerr == nil {
						for i, f := range rights {
							if i == 0 && fd < 0 {
								fd = f
							} else {
								unix.Close(f)
							}
						}
					}
				}
			}
		}
		if n < 5 {
			if fd >= 0 {
				unix.Close(fd)
			}
			continue
		}
		id := binary.BigEndian.Uint32(buf[:4])
		res := result{}
		switch {
		case buf[4] == 0 && fd >= 0:
			f := os.NewFile(uintptr(fd), "task-conn")
			res.conn, res.err = net.FileConn(f)
			f.Close()
		case buf[4] == 0:
			res.err = errors.New("relay answered without a connection")
		case buf[4] == 2:
			res.err = fmt.Errorf("%w: %s", ErrRefused, string(buf[5:n]))
		default:
			res.err = errors.New(string(buf[5:n]))
		}
		if fd >= 0 && buf[4] != 0 {
			unix.Close(fd)
		}
		r.mu.Lock()
		ch, ok := r.pending[id]
		delete(r.pending, id)
		r.mu.Unlock()
		if !ok {
			if res.conn != nil {
				res.conn.Close() // the dialer gave up
			}
			continue
		}
		ch <- res
	}
	// The relay is gone: say why to everyone waiting.
	var why error
	select {
	case werr := <-exited:
		why = fmt.Errorf("%w: %v %s", ErrClosed, werr, stderr.String())
	case <-time.After(2 * time.Second):
		why = fmt.Errorf("%w: %v %s", ErrClosed, err, stderr.String())
	}
	r.mu.Lock()
	r.err = why
	for id, ch := range r.pending {
		ch <- result{err: why}
		delete(r.pending, id)
	}
	r.mu.Unlock()
}

// Dial connects to port on the loopback of the container's namespace.
func (r *Relay) Dial(ctx context.Context, port int) (net.Conn, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("dial in the task: port %d", port)
	}
	ch := make(chan result, 1)
	r.mu.Lock()
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return nil, err
	}
	r.next++
	id := r.next
	r.pending[id] = ch
	r.mu.Unlock()
	var req [8]byte
	binary.BigEndian.PutUint32(req[:4], id)
	binary.BigEndian.PutUint16(req[4:6], uint16(port))
	if _, err := r.ctl.Write(req[:]); err != nil {
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrClosed, err)
	}
	select {
	case res := <-ch:
		return res.conn, res.err
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Alive reports whether the relay still serves.
func (r *Relay) Alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Pid is the relay's process id.
func (r *Relay) Pid() int { return r.cmd.Process.Pid }

// Close ends the relay and waits (bounded) for it to go.
func (r *Relay) Close() error {
	r.ctl.Close()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	return nil
}

// limitedBuffer keeps the first 4 KiB written (the relay's stderr).
type limitedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
