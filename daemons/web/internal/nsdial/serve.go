package nsdial

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dialTimeout bounds one connect inside the namespace.
const dialTimeout = 10 * time.Second

// Serve is the relay's side, run inside the container's namespaces with
// the control socket as ctl (fd 3): it gives up its privileges, then
// answers requests until ctl ends.
func Serve(ctl *os.File) error {
	if err := harden(); err != nil {
		return err
	}
	fc, err := net.FileConn(ctl)
	ctl.Close()
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	c, ok := fc.(*net.UnixConn)
	if !ok {
		return errors.New("control socket is not a unix socket")
	}
	defer c.Close()
	buf := make([]byte, 64)
	for {
		n, _, _, _, err := c.ReadMsgUnix(buf, nil)
		if err != nil || n == 0 {
			return nil // the parent is gone
		}
		if n < 8 {
			continue
		}
		id := binary.BigEndian.Uint32(buf[:4])
		port := int(binary.BigEndian.Uint16(buf[4:6]))
		go answer(c, id, port)
	}
}

// answer connects to port on the namespace's loopback and sends the
// socket back (or why not).
func answer(c *net.UnixConn, id uint32, port int) {
	reply := func(status byte, msg string, fd int) {
		b := make([]byte, 5, 5+len(msg))
		binary.BigEndian.PutUint32(b[:4], id)
		b[4] = status
		b = append(b, msg...)
		var oob []byte
		if fd >= 0 {
			oob = unix.UnixRights(fd)
		}
		_, _, _ = c.WriteMsgUnix(b, oob, nil)
	}
	var conn net.Conn
	var err error
	for _, host := range []string{"127.0.0.1", "::1"} {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), dialTimeout)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
	}
	if err != nil {
		status := byte(1)
		if errors.Is(err, syscall.ECONNREFUSED) {
			status = 2
		}
		reply(status, fmt.Sprintf("port %d: %v", port, err), -1)
		return
	}
	defer conn.Close()
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		reply(1, err.Error(), -1)
		return
	}
	defer f.Close()
	reply(0, "", int(f.Fd()))
}

// harden drops every capability the relay holds in the task's user
// namespace and forbids gaining any: connecting to the loopback needs
// none.
func harden() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	for c := 0; c <= 63; c++ {
		// Already gone (setpriv emptied the set before the exec): dropping
		// it again would need CAP_SETPCAP, which is gone too.
		// A number past the kernel's last capability reads EINVAL.
		if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil || in == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	return nil
}
