package smarthttp

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// PreReceiveFunc decides the ref updates git is about to make, given as
// git hands them to its pre-receive hook ("<old> <new> <ref>" lines). It
// returns the lines git shows the pusher and whether the push may go
// ahead.
type PreReceiveFunc func(lines []string) (msgs []string, ok bool)

// PreReceiveHook is the hook the gate installs. git runs it after a
// push's objects arrived and before any ref moves; it hands the ref
// updates to the gate over file descriptor 3, a socket the gate opens for
// this one receive-pack, prints the gate's reasons and succeeds only on
// the gate's "ok". Without the socket, or without an answer, the push is
// refused: the policy fails closed.
const PreReceiveHook = `#!/bin/sh
# Installed by terok-gate; rewritten at every start. The gate decides.
if ! { cat; echo .; } 2>/dev/null >&3; then
	echo "terok-gate: the gate's push policy is not reachable; push refused" >&2
	exit 1
fi
while IFS= read -r line <&3; do
	case "$line" in
	ok) exit 0 ;;
	no) exit 1 ;;
	"msg "*) printf '%s\n' "${line#msg }" >&2 ;;
	esac
done
echo "terok-gate: the gate's push policy did not answer; push refused" >&2
exit 1
`

// maxHookLines bounds the ref updates one push may hand the hook.
const maxHookLines = 100000

// hookChannel is the gate's end of one receive-pack's policy socket.
type hookChannel struct {
	child *os.File // fd 3 of git and its hook
	mine  *os.File
	done  chan struct{}
	once  sync.Once
}

// openHookChannel makes the socket pair and starts answering the hook
// with decide (nil: every push is refused).
func openHookChannel(decide PreReceiveFunc) (*hookChannel, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("policy socket: %w", err)
	}
	// Only the gate's end is non-blocking (pollable, so closing it ends a
	// pending read); the hook's shell reads a blocking socket.
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, fmt.Errorf("policy socket: %w", err)
	}
	c := &hookChannel{mine: os.NewFile(uintptr(fds[0]), "policy"), child: os.NewFile(uintptr(fds[1]), "policy-hook"),
		done: make(chan struct{})}
	go c.serve(decide)
	return c, nil
}

// serve reads the hook's lines up to ".", decides once and answers.
func (c *hookChannel) serve(decide PreReceiveFunc) {
	defer close(c.done)
	sc := bufio.NewScanner(c.mine)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var lines []string
	complete := false
	for sc.Scan() {
		if sc.Text() == "." {
			complete = true
			break
		}
		if len(lines) == maxHookLines {
			break
		}
		lines = append(lines, sc.Text())
	}
	var msgs []string
	ok := false
	switch {
	case !complete && len(lines) == maxHookLines:
		msgs = []string{fmt.Sprintf("terok-gate: a push may change at most %d refs; push fewer at once", maxHookLines)}
	case !complete:
		return // the hook went away
	case decide == nil:
		msgs = []string{"terok-gate: this gate has no push policy; push refused"}
	default:
		msgs, ok = decide(lines)
	}
	w := bufio.NewWriter(c.mine)
	for _, m := range msgs {
		m = strings.NewReplacer("\n", " ", "\r", " ").Replace(m)
		fmt.Fprintf(w, "msg %s\n", m)
	}
	if ok {
		w.WriteString("ok\n")
	} else {
		w.WriteString("no\n")
	}
	_ = w.Flush()
}

// started drops the gate's copy of the hook's end once git holds it.
func (c *hookChannel) started() { c.child.Close() }

// close ends the channel and waits for its answerer.
func (c *hookChannel) close() {
	c.once.Do(func() {
		c.child.Close()
		c.mine.Close()
		<-c.done
	})
}

// checkHook refuses to run receive-pack when the policy hook is missing or
// not executable: git would then update refs without asking the gate.
func checkHook(hooksDir string) error {
	fi, err := os.Stat(filepath.Join(hooksDir, "pre-receive"))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o100 == 0 {
		return fmt.Errorf("the push policy hook %s is missing or not executable (restart the gate to reinstall it): %v",
			filepath.Join(hooksDir, "pre-receive"), err)
	}
	return nil
}
