package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// OutsideHost puts a TCP listener at 203.0.113.254:80 (TEST-NET-3) that
// writes greeting and a newline to every connection, in a network
// namespace of the test's own, routed from the host's namespace over a
// veth pair (203.0.113.252/30). A rootless container's user-mode network
// (slirp4netns, pasta) connects from the host's namespace, so it reaches
// this address as it would reach one outside the machine. Needs root and
// ip; everything goes at test cleanup. Returns "203.0.113.254:80".
func OutsideHost(t testing.TB, greeting string) string {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "ip")
	id := fmt.Sprint(os.Getpid() % 100000)
	ns, host, peer := "tkout-"+id, "tko"+id+"h", "tko"+id+"n"
	const hostAddr, nsAddr = "203.0.113.253", "203.0.113.254"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("outside host: %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	run("ip", "addr", "add", hostAddr+"/30", "dev", host)
	run("ip", "link", "set", host, "up")
	run("ip", "-n", ns, "addr", "add", nsAddr+"/30", "dev", peer)
	run("ip", "-n", ns, "link", "set", peer, "up")
	run("ip", "-n", ns, "link", "set", "lo", "up")
	run("ip", "-n", ns, "route", "add", "default", "via", hostAddr)
	ln, err := listenIn(ns, nsAddr+":80")
	if err != nil {
		t.Fatalf("outside host: listen in %s: %v", ns, err)
	}
	greet(t, ln, greeting)
	return nsAddr + ":80"
}

// Greeter listens on addr (host or host:port; port 0 or none picks one)
// and writes greeting and a newline to every connection until the test
// ends. It returns the port.
func Greeter(t testing.TB, addr, greeting string) int {
	t.Helper()
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "0")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	greet(t, ln, greeting)
	return ln.Addr().(*net.TCPAddr).Port
}

// greet answers every connection to ln with greeting until the test ends.
func greet(t testing.TB, ln net.Listener, greeting string) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(greeting + "\n"))
			c.Close()
		}
	}()
}

// listenIn opens a TCP listener inside the named namespace (on a thread
// switched there and back; the socket stays in the namespace).
func listenIn(ns, addr string) (net.Listener, error) {
	type res struct {
		ln  net.Listener
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- res{err: err}
			return // the thread dies locked with its goroutine
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: err}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			if ln != nil {
				ln.Close()
			}
			ch <- res{err: err}
			return
		}
		runtime.UnlockOSThread()
		ch <- res{ln, lerr}
	}()
	r := <-ch
	return r.ln, r.err
}
