package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// Addresses of the topology.
const (
	TaskAddr   = "198.51.100.2"
	RouterAddr = "198.51.100.1" // the internet side of the veth
	// IPv6 of the same link, from the documentation prefix 2001:db8::/32.
	TaskAddr6   = "2001:db8:5::2"
	RouterAddr6 = "2001:db8:5::1"
)

// Topo is a task namespace wired to an internet namespace. The internet
// namespace owns 198.51.100.1 and 2001:db8:5::1 and every extra address the
// test asks for; the task namespace routes everything (IPv4 and IPv6) to it.
type Topo struct {
	Task, Inet string // namespace names
	TaskPID    int    // a sleeping process inside Task, for /proc/PID/ns/net
	t          testing.TB
	task       *exec.Cmd
}

// Require checks root and the ip command.
func Require(t testing.TB) {
	t.Helper()
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "ip")
	testkit.RequireCommand(t, "nft")
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// New builds the topology; hosts are extra internet addresses (203.0.113.x,
// or IPv6 from 2001:db8::/32) put on the internet namespace's loopback.
// Duplicate address detection is off in both namespaces, so IPv6 addresses
// are usable at once instead of after the DAD delay.
func New(t testing.TB, hosts ...string) *Topo {
	t.Helper()
	Require(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	tp := &Topo{Task: "tks2-" + id + "-t", Inet: "tks2-" + id + "-i", t: t}
	t.Cleanup(tp.Close)
	va, vb := "tks2v"+id+"a", "tks2v"+id+"b"
	steps := [][]string{
		{"ip", "netns", "add", tp.Task},
		{"ip", "netns", "add", tp.Inet},
	}
	for _, ns := range []string{tp.Task, tp.Inet} {
		// Before the veth exists, so it inherits "default".
		steps = append(steps, []string{"ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"})
	}
	steps = append(steps, [][]string{
		{"ip", "link", "add", va, "netns", tp.Task, "type", "veth", "peer", "name", vb, "netns", tp.Inet},
		{"ip", "-n", tp.Task, "link", "set", "lo", "up"},
		{"ip", "-n", tp.Inet, "link", "set", "lo", "up"},
		{"ip", "-n", tp.Task, "addr", "add", TaskAddr + "/24", "dev", va},
		{"ip", "-n", tp.Inet, "addr", "add", RouterAddr + "/24", "dev", vb},
		{"ip", "-n", tp.Task, "link", "set", va, "up"},
		{"ip", "-n", tp.Inet, "link", "set", vb, "up"},
		{"ip", "-n", tp.Task, "addr", "add", TaskAddr6 + "/64", "dev", va, "nodad"},
		{"ip", "-n", tp.Inet, "addr", "add", RouterAddr6 + "/64", "dev", vb, "nodad"},
		{"ip", "-n", tp.Task, "route", "add", "default", "via", RouterAddr},
		{"ip", "-n", tp.Task, "-6", "route", "add", "default", "via", RouterAddr6},
	}...)
	for _, h := range hosts {
		bits := "/32"
		if strings.Contains(h, ":") {
			bits = "/128"
		}
		steps = append(steps, []string{"ip", "-n", tp.Inet, "addr", "add", h + bits, "dev", "lo"})
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			t.Fatalf("build topology: %v", err)
		}
	}
	cmd := exec.Command("ip", "netns", "exec", tp.Task, "sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start task process: %v", err)
	}
	tp.TaskPID, tp.task = cmd.Process.Pid, cmd
	t.Cleanup(tp.KillTask)
	// ip netns exec execs sleep in the same pid once it has joined; wait for that.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", tp.TaskPID)); err == nil {
			if s, err := os.Readlink("/proc/self/ns/net"); err == nil && l != s {
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", tp.TaskPID)); strings.TrimSpace(string(comm)) == "sleep" {
					return tp
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("task process never entered namespace %s", tp.Task)
	return nil
}

// KillTask ends the task process (as a container's exit would).
func (tp *Topo) KillTask() {
	if tp.task != nil {
		_ = tp.task.Process.Kill()
		_ = tp.task.Wait()
		tp.task = nil
	}
}

// Close removes both namespaces (the veth goes with them).
func (tp *Topo) Close() {
	for _, n := range []string{tp.Task, tp.Inet} {
		// Retry briefly: a concurrent mount operation can fail one attempt.
		for i := 0; i < 5; i++ {
			if _, err := os.Stat("/run/netns/" + n); os.IsNotExist(err) {
				break
			}
			if err := run("ip", "netns", "del", n); err == nil {
				break
			} else if i == 4 {
				tp.t.Errorf("remove namespace %s: %v", n, err)
			}
			time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
		}
	}
}

// In runs fn on a thread switched into namespace name; sockets fn creates
// stay in that namespace.
func In(name string, fn func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", name, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with the goroutine.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Listen opens a TCP listener at addr inside namespace ns that accepts and
// writes "ok" to every connection, until test cleanup.
func (tp *Topo) Listen(ns, addr string) {
	tp.t.Helper()
	var ln net.Listener
	if err := In(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		tp.t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	tp.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("ok"))
			c.Close()
		}
	}()
}

// DialResult is what one connection attempt from the task namespace saw.
type DialResult struct {
	Err     error
	Elapsed time.Duration
}

// Dial connects from the task namespace to addr with a timeout and reads
// the greeting.
func (tp *Topo) Dial(addr string, timeout time.Duration) DialResult {
	start := time.Now()
	var c net.Conn
	err := In(tp.Task, func() (err error) { c, err = net.DialTimeout("tcp", addr, timeout); return })
	if err == nil {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		buf := make([]byte, 2)
		_, err = c.Read(buf)
		if err == nil && string(buf) != "ok" {
			err = fmt.Errorf("unexpected greeting %q", buf)
		}
	}
	return DialResult{Err: err, Elapsed: time.Since(start)}
}

// Nft runs nft inside namespace ns and returns its output.
func Nft(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).CombinedOutput()
	return string(out), err
}
