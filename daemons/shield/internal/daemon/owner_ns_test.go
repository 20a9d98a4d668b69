package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

const (
	ownerTestUser = "tkshield" // made by scripts/setup.d/40-shield.sh
	helperEnv     = "TKSHIELD2_OWNER_HELPER"
	resultMark    = "TKSHIELD2-RESULT "
)

// ownerResult is what the unprivileged client saw, by step: the HTTP status
// (200 for success) and, for the panic, whose containers it blocked.
type ownerResult struct {
	Codes   map[string]int `json:"codes"`
	Blocked []string       `json:"blocked"`
	Errors  []string       `json:"errors,omitempty"`
}

// TestOwnerHelper is not a test on its own: TestOwnership runs the test
// binary as the unprivileged user with this one selected, as a real client
// process whose peer credentials the daemon reads.
func TestOwnerHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return
	}
	sock, id := os.Getenv("TKSHIELD2_SOCK"), os.Getenv("TKSHIELD2_ID")
	rootPID, _ := strconv.Atoi(os.Getenv("TKSHIELD2_PID"))
	c := shieldapi.New(sock)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := ownerResult{Codes: map[string]int{}}
	code := func(step string, err error) {
		if err == nil {
			res.Codes[step] = 200
			return
		}
		res.Codes[step] = unixhttp.StatusOf(err)
		res.Errors = append(res.Errors, step+": "+err.Error())
	}
	defer func() {
		b, _ := json.Marshal(res)
		fmt.Println(resultMark + string(b))
	}()

	// Root's container: every change is refused.
	_, err := c.Allow(ctx, id, "203.0.113.42", "")
	code("allow", err)
	_, err = c.Deny(ctx, id, "203.0.113.41")
	code("deny", err)
	_, err = c.SetMode(ctx, id, shieldapi.ModeDown)
	code("mode", err)
	code("disarm", c.Disarm(ctx, id))
	// Reading is open to every caller that can reach the socket.
	_, err = c.Status(ctx, id)
	code("status", err)
	// Root's namespace cannot be armed by this user.
	_, err = c.Arm(ctx, shieldapi.ArmRequest{ID: id + "-mine", PID: rootPID})
	code("arm-root-ns", err)

	// A namespace of its own (a rootless user namespace, as rootless Podman
	// makes): this user may arm and change it.
	own := exec.Command("unshare", "--user", "--map-root-user", "--net", "sleep", "30")
	if err := own.Start(); err != nil {
		res.Errors = append(res.Errors, "unshare: "+err.Error())
		return
	}
	defer func() { _ = own.Process.Kill(); _ = own.Wait() }()
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; i < 200; i++ {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", own.Process.Pid)); err == nil && l != self {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Its own namespace under root's container id would take root's over.
	_, err = c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: own.Process.Pid})
	code("arm-hijack", err)
	mine := id + "-own"
	_, err = c.Arm(ctx, shieldapi.ArmRequest{ID: mine, PID: own.Process.Pid})
	code("arm-own", err)
	_, err = c.Allow(ctx, mine, "203.0.113.42", "")
	code("allow-own", err)
	_, err = c.SetMode(ctx, mine, shieldapi.ModeDown)
	code("mode-own", err)
	pr, err := c.Panic(ctx)
	code("panic", err)
	res.Blocked = pr.Blocked
	code("disarm-own", c.Disarm(ctx, mine))
}

// TestOwnership runs a client as the unprivileged user tkshield against a
// daemon whose socket that user's group may reach, and shows that it can
// change only what it owns.
func TestOwnership(t *testing.T) {
	nstest.Require(t)
	testkit.RequireCommand(t, "unshare")
	u, err := user.Lookup(ownerTestUser)
	testkit.Require(t, err == nil, "test user "+ownerTestUser+" (scripts/setup.d/40-shield.sh)")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	tp := nstest.New(t, "203.0.113.41", "203.0.113.42")
	tp.Listen(tp.Inet, "203.0.113.41:80")
	tp.Listen(tp.Inet, "203.0.113.42:80")
	h := newHarness(t, "127.0.0.1:9", func(c *config.Config) {
		c.SocketGroup = u.Gid
		c.SocketMode = "0660"
	})
	ctx := context.Background()
	id := "tks2owner000000001"
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "root", Allow: []string{"203.0.113.41"}}); err != nil {
		t.Fatalf("arm as root: %v", err)
	}
	connects(t, tp, "203.0.113.41:80")
	refused(t, tp, "203.0.113.42:80")
	before, err := nstest.Nft(tp.Task, "list", "ruleset")
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, before)
	}

	res := runAsUser(t, uint32(uid), uint32(gid), map[string]string{
		"TKSHIELD2_SOCK": h.cfg.Socket, "TKSHIELD2_ID": id, "TKSHIELD2_PID": strconv.Itoa(tp.TaskPID)})
	want := map[string]int{
		"allow": 403, "deny": 403, "mode": 403, "disarm": 403, "status": 200, "arm-root-ns": 403, "arm-hijack": 403,
		"arm-own": 200, "allow-own": 200, "mode-own": 200, "panic": 200, "disarm-own": 200,
	}
	for step, code := range want {
		if got := res.Codes[step]; got != code {
			t.Errorf("as %s, %s: got status %d, want %d (errors: %q)", ownerTestUser, step, got, code, res.Errors)
		}
	}
	if !slices.Equal(res.Blocked, []string{id + "-own"}) {
		t.Errorf("panic as %s blocked %q, want only its own container", ownerTestUser, res.Blocked)
	}

	// Root's container is untouched: same live ruleset, same state, same traffic.
	after, err := nstest.Nft(tp.Task, "list", "ruleset")
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, after)
	}
	if before != after {
		t.Errorf("ruleset changed by a refused caller:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	st, err := h.c.Status(ctx, id)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.Mode != shieldapi.ModeUp || len(st.Allowed) != 0 || len(st.Denied) != 0 || st.PID != tp.TaskPID {
		t.Errorf("state changed by a refused caller: %+v", st)
	}
	connects(t, tp, "203.0.113.41:80")
	refused(t, tp, "203.0.113.42:80")

	// Root still can.
	if _, err := h.c.Allow(ctx, id, "203.0.113.42", ""); err != nil {
		t.Fatalf("allow as root: %v", err)
	}
	connects(t, tp, "203.0.113.42:80")
	if _, err := h.c.Deny(ctx, id, "203.0.113.41"); err != nil {
		t.Fatalf("deny as root: %v", err)
	}
	refused(t, tp, "203.0.113.41:80")
	if _, err := h.c.SetMode(ctx, id, shieldapi.ModeBlock); err != nil {
		t.Fatalf("mode as root: %v", err)
	}
	if r := tp.Dial("203.0.113.42:80", 3*time.Second); r.Err == nil {
		t.Fatal("block mode as root: connection went through")
	}
	if err := h.c.Disarm(ctx, id); err != nil {
		t.Fatalf("disarm as root: %v", err)
	}
	if out, _ := nstest.Nft(tp.Task, "list", "ruleset"); strings.Contains(out, "table") {
		t.Fatalf("table left after disarm as root:\n%s", out)
	}
}

// runAsUser runs TestOwnerHelper in a copy of this test binary as uid:gid
// (no supplementary groups) and returns what it reports.
func runAsUser(t *testing.T, uid, gid uint32, env map[string]string) ownerResult {
	t.Helper()
	dir, err := os.MkdirTemp("", "tkshield2-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The go build directory is private to root: copy the binary where the user can run it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "shield.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^TestOwnerHelper$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", helperEnv + "=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("client as uid %d: %v\n%s", uid, err, out.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultMark); ok {
			var r ownerResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("client result %q: %v", line, err)
			}
			return r
		}
	}
	t.Fatalf("client as uid %d reported nothing:\n%s", uid, out.String())
	return ownerResult{}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
