package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// binary is terok-supervisord built once for every test. It is built here,
// not with testkit.Build, because under TKSUP_RACE=1 it carries the race
// detector, which needs cgo (testkit builds with CGO_ENABLED=0).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tksup-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "terok-supervisord")
	args := []string{"build", "-o", binary}
	if os.Getenv("TKSUP_RACE") == "1" { // run the supervisor under the race detector
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build terok-supervisord: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tree is one running terok-supervisord under test.
type tree struct {
	t      *testing.T
	dir    string
	conf   string
	sock   string
	cmd    *exec.Cmd
	exited chan error
	out    *testkit.SyncBuffer
	rpc    *xmlrpc.Client
}

const header = `[supervisord]
logfile = %(here)s/supervisord.log
childlogdir = %(here)s/logs
identifier = tksup

[unix_http_server]
file = %(here)s/supervisor.sock
chmod = 0700

[supervisorctl]
serverurl = unix://%(here)s/supervisor.sock
`

// start writes header+programs to a temp dir and runs the supervisor on it
// until the test ends.
func start(t *testing.T, programs string) *tree {
	t.Helper()
	return startWrapped(t, nil, programs)
}

// startWrapped runs the supervisor under wrapper (e.g. unshare).
func startWrapped(t *testing.T, wrapper []string, programs string) *tree {
	t.Helper()
	dir, err := os.MkdirTemp("", "tksup-")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	tr := &tree{t: t, dir: dir, conf: filepath.Join(dir, "supervisord.conf"), sock: filepath.Join(dir, "supervisor.sock"),
		exited: make(chan error, 1), out: &testkit.SyncBuffer{}}
	if err := os.WriteFile(tr.conf, []byte(header+strings.ReplaceAll(programs, "DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, wrapper...), binary, "-c", tr.conf)
	tr.cmd = exec.Command(argv[0], argv[1:]...)
	tr.cmd.Stdout, tr.cmd.Stderr = tr.out, tr.out
	tr.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { tr.exited <- tr.cmd.Wait() }()
	tr.rpc, _ = xmlrpc.NewClient("unix://"+tr.sock, "", "")
	t.Cleanup(func() {
		select {
		case <-tr.exited:
		default:
			tr.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-tr.exited:
			case <-time.After(20 * time.Second):
				syscall.Kill(-tr.cmd.Process.Pid, syscall.SIGKILL)
				<-tr.exited
			}
		}
		if strings.Contains(tr.output(), "DATA RACE") {
			t.Error("the race detector reported a data race in the supervisor")
		}
		if t.Failed() {
			t.Logf("supervisor output:\n%s", tr.output())
		}
		os.RemoveAll(dir)
	})
	tr.waitFor("socket answers", 10*time.Second, func() bool {
		_, err := tr.rpc.CallTimeout("supervisor.getState")
		return err == nil
	})
	return tr
}

// output is everything the supervisor wrote so far.
func (tr *tree) output() string { return tr.out.String() }

// waitFor polls cond every 50 ms until it holds or limit passes.
func (tr *tree) waitFor(what string, limit time.Duration, cond func() bool) {
	tr.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		select {
		case err := <-tr.exited:
			tr.exited <- err
			tr.t.Fatalf("supervisor exited (%v) while waiting for %s", err, what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	tr.t.Fatalf("timed out after %s waiting for %s", limit, what)
}

func (tr *tree) call(method string, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return tr.rpc.Call(ctx, method, args...)
}

func (tr *tree) info(name string) map[string]any {
	tr.t.Helper()
	v, err := tr.call("supervisor.getProcessInfo", name)
	if err != nil {
		tr.t.Fatalf("getProcessInfo %s: %v", name, err)
	}
	return v.(map[string]any)
}

func (tr *tree) state(name string) string { return tr.info(name)["statename"].(string) }

func (tr *tree) waitState(name, want string, limit time.Duration) {
	tr.t.Helper()
	tr.waitFor(name+" in "+want, limit, func() bool { return tr.state(name) == want })
}

// faultCode returns the XML-RPC fault code of err, or 0.
func faultCode(err error) int {
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return f.Code
	}
	return 0
}

// procStat is what the tests read of /proc/PID/stat.
type procStat struct {
	pid, ppid, pgrp int
	state           string
}

// readStat parses /proc/PID/stat at path.
func readStat(path string) (procStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return procStat{}, false
	}
	f := strings.Fields(s[i+2:]) // state ppid pgrp ...
	if len(f) < 3 {
		return procStat{}, false
	}
	st := procStat{state: f[0]}
	st.pid, _ = strconv.Atoi(strings.Fields(s)[0])
	st.ppid, _ = strconv.Atoi(f[1])
	st.pgrp, _ = strconv.Atoi(f[2])
	return st, true
}

// pidsWhere lists the processes whose stat satisfies keep.
func pidsWhere(keep func(procStat) bool) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		if st, ok := readStat(p); ok && keep(st) {
			out = append(out, st.pid)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, ok := readStat(fmt.Sprintf("/proc/%d/stat", pid))
	return ok && st.state != "Z"
}

// zombieChildren lists zombie processes whose parent is ppid.
func zombieChildren(ppid int) []int {
	return pidsWhere(func(st procStat) bool { return st.state == "Z" && st.ppid == ppid })
}

// childrenOf lists the live children of pid (host view).
func childrenOf(pid int) []int {
	return pidsWhere(func(st procStat) bool { return st.state != "Z" && st.ppid == pid })
}

// pgMembers lists live processes in process group pgid.
func pgMembers(pgid int) []int {
	return pidsWhere(func(st procStat) bool { return st.state != "Z" && st.pgrp == pgid })
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func execOut(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}
