package main

import (
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
)

func TestCrashIsRestarted(t *testing.T) {
	tr := start(t, `
[program:crasher]
command = /bin/sh -c 'echo started; sleep 0.3; exit 7'
startsecs = 0
autorestart = unexpected
`)
	tr.waitState("crasher", "RUNNING", 5*time.Second)
	first := tr.info("crasher")["pid"].(int)
	tr.waitFor("a new pid after the crash", 10*time.Second, func() bool {
		in := tr.info("crasher")
		pid, _ := in["pid"].(int)
		return pid != 0 && pid != first
	})
	if got := tr.info("crasher")["exitstatus"].(int); got != 7 {
		t.Fatalf("exitstatus = %d, want 7", got)
	}
	if !strings.Contains(tr.output(), "crasher | started") {
		t.Fatalf("program output not prefixed on the supervisor's stdout:\n%s", tr.output())
	}
}

func TestExpectedExitIsNotRestarted(t *testing.T) {
	tr := start(t, `
[program:once]
command = /bin/sh -c 'exit 0'
startsecs = 0
autorestart = unexpected
`)
	tr.waitState("once", "EXITED", 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	if s := tr.state("once"); s != "EXITED" {
		t.Fatalf("state = %s after an expected exit with autorestart=unexpected, want EXITED", s)
	}
}

func TestStartRetriesThenFatal(t *testing.T) {
	tr := start(t, `
[program:broken]
command = /bin/sh -c 'echo nope >&2; exit 1'
startsecs = 1
startretries = 1

[program:missing]
command = /nonexistent/tksup-cmd --flag
startretries = 0
`)
	tr.waitState("missing", "FATAL", 5*time.Second)
	if e := tr.info("missing")["spawnerr"].(string); !strings.Contains(e, "can't find command") {
		t.Fatalf("spawnerr of a missing command = %q", e)
	}
	if _, err := tr.call("supervisor.startProcess", "missing", true); faultCode(err) != 20 {
		t.Fatalf("startProcess on a missing command: %v, want fault 20 NO_FILE", err)
	}
	tr.waitState("broken", "FATAL", 10*time.Second)
	in := tr.info("broken")
	if in["spawnerr"] != "Exited too quickly (process log may have details)" {
		t.Fatalf("spawnerr = %q", in["spawnerr"])
	}
	if got := readFile(t, in["stderr_logfile"].(string)); strings.Count(got, "nope") != 2 {
		t.Fatalf("want 2 attempts (1 + startretries=1) in the stderr log, got %q", got)
	}
	_, err := tr.call("supervisor.startProcess", "broken", true)
	if faultCode(err) != 40 {
		t.Fatalf("startProcess on a failing program: %v, want fault 40 ABNORMAL_TERMINATION", err)
	}
}

func TestPriorityOrder(t *testing.T) {
	tr := start(t, `
[program:c]
command = /bin/sh -c 'trap "echo stop-c >> DIR/order; exit 0" TERM; echo start-c >> DIR/order; while :; do sleep 0.1; done'
priority = 30
startsecs = 0
[program:a]
command = /bin/sh -c 'trap "echo stop-a >> DIR/order; exit 0" TERM; echo start-a >> DIR/order; while :; do sleep 0.1; done'
priority = 10
startsecs = 0
[program:b]
command = /bin/sh -c 'trap "echo stop-b >> DIR/order; exit 0" TERM; echo start-b >> DIR/order; while :; do sleep 0.1; done'
priority = 20
startsecs = 0
`)
	order := filepath.Join(tr.dir, "order")
	tr.waitFor("three starts", 5*time.Second, func() bool { return strings.Count(readFile(t, order), "start") == 3 })
	tr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-tr.exited:
		tr.exited <- err
		if err != nil {
			t.Fatalf("supervisor exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("supervisor did not exit after SIGTERM")
	}
	// Spawn order is what priority decides (the children then race to
	// write), so it is read from the supervisor's log; stop order is strict
	// (each priority is down before the next is signalled).
	var spawned []string
	for _, line := range strings.Split(readFile(t, filepath.Join(tr.dir, "supervisord.log")), "\n") {
		if strings.Contains(line, `"message":"spawned"`) {
			for _, n := range []string{"a", "b", "c"} {
				if strings.Contains(line, `"program":"`+n+`"`) {
					spawned = append(spawned, n)
				}
			}
		}
	}
	if strings.Join(spawned, " ") != "a b c" {
		t.Fatalf("spawn order = %v, want a b c", spawned)
	}
	var stops []string
	for _, f := range strings.Fields(readFile(t, order)) {
		if strings.HasPrefix(f, "stop-") {
			stops = append(stops, f)
		}
	}
	if strings.Join(stops, " ") != "stop-c stop-b stop-a" {
		t.Fatalf("stop order = %v, want stop-c stop-b stop-a", stops)
	}
}

func TestStopwaitsecsThenSIGKILL(t *testing.T) {
	tr := start(t, `
[program:stubborn]
command = /bin/sh -c 'trap "" TERM; while :; do sleep 0.1; done'
startsecs = 1
stopwaitsecs = 1
stopasgroup = true
`)
	tr.waitState("stubborn", "RUNNING", 5*time.Second)
	pid := tr.info("stubborn")["pid"].(int)
	t0 := time.Now()
	if _, err := tr.call("supervisor.stopProcess", "stubborn", true); err != nil {
		t.Fatalf("stopProcess: %v", err)
	}
	if d := time.Since(t0); d < 900*time.Millisecond {
		t.Fatalf("stop returned after %s, before stopwaitsecs=1 elapsed", d)
	}
	if s := tr.state("stubborn"); s != "STOPPED" {
		t.Fatalf("state = %s, want STOPPED", s)
	}
	if alive(pid) {
		t.Fatalf("pid %d still alive after SIGKILL", pid)
	}
	if !strings.Contains(readFile(t, filepath.Join(tr.dir, "supervisord.log")), "SIGKILL") {
		t.Fatal("main log does not mention the SIGKILL")
	}
}

func TestOrphansAreReaped(t *testing.T) {
	// The program starts a background child and exits its intermediate
	// shell, so the sleeper is re-parented to the supervisor (subreaper)
	// and becomes a zombie there unless the supervisor reaps it.
	tr := start(t, `
[program:orphaner]
command = /bin/sh -c 'for i in 1 2 3 4 5; do sh -c "sleep 1 & echo \$! >> DIR/orphans"; done; exec sleep 1000'
startsecs = 0
`)
	orphans := filepath.Join(tr.dir, "orphans")
	tr.waitFor("five orphans", 5*time.Second, func() bool { return len(strings.Fields(readFile(t, orphans))) == 5 })
	sup := tr.cmd.Process.Pid
	adopted := false
	for _, f := range strings.Fields(readFile(t, orphans)) {
		if b, err := os.ReadFile("/proc/" + f + "/stat"); err == nil {
			s := string(b)
			fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			if fields[1] == strconv.Itoa(sup) {
				adopted = true
			}
		}
	}
	tr.waitFor("orphans to exit and be reaped", 5*time.Second, func() bool {
		for _, f := range strings.Fields(readFile(t, orphans)) {
			if _, err := os.Stat("/proc/" + f); err == nil {
				return false
			}
		}
		return len(zombieChildren(sup)) == 0
	})
	if !adopted {
		t.Fatal("no orphan was ever re-parented to the supervisor; it is not acting as subreaper")
	}
	if s := tr.state("orphaner"); s != "RUNNING" {
		t.Fatalf("the program itself is %s, want RUNNING (reaping must not steal its exit)", s)
	}
}

func TestSIGTERMLeavesNoSurvivor(t *testing.T) {
	tr := start(t, `
[program:plain]
command = /bin/sleep 1000
startsecs = 0
[program:family]
command = /bin/sh -c 'sleep 1000 & sleep 1000 & echo $$ > DIR/family; wait'
startsecs = 0
stopasgroup = true
[program:grouped]
command = /bin/sleep 1000
numprocs = 2
process_name = %(program_name)s_%(process_num)02d
startsecs = 0
`)
	for _, n := range []string{"plain", "family", "grouped:grouped_00", "grouped:grouped_01"} {
		tr.waitState(n, "RUNNING", 5*time.Second)
	}
	tr.waitFor("family pid file", 5*time.Second, func() bool { return readFile(t, filepath.Join(tr.dir, "family")) != "" })
	var pids []int
	all, err := tr.call("supervisor.getAllProcessInfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range all.([]any) {
		pids = append(pids, v.(map[string]any)["pid"].(int))
	}
	famPid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(tr.dir, "family"))))
	tr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-tr.exited:
		tr.exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not exit within 20 s of SIGTERM")
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("program pid %d survived", pid)
		}
	}
	if out, _ := os.ReadFile("/proc/" + strconv.Itoa(famPid)); out != nil {
		t.Errorf("family leader %d survived", famPid)
	}
	if members := pgMembers(famPid); len(members) > 0 {
		t.Errorf("members of the family process group survived: %v", members)
	}
	if _, err := os.Stat(tr.sock); err == nil {
		t.Error("socket file left behind")
	}
}

func TestBadConfigStartsNothing(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "bad.conf")
	os.WriteFile(conf, []byte("[program:a]\ncommand=/bin/sleep 1000\n[program:b]\nuser=tksup-no-such-user\ncommand=/bin/true\n"), 0o644)
	out, err := execOut(binary, "-c", conf)
	if err == nil {
		t.Fatalf("supervisor accepted a config with an unknown user:\n%s", out)
	}
	if !strings.Contains(out, "tksup-no-such-user") || !strings.Contains(out, "bad.conf") {
		t.Fatalf("error does not name the user and file:\n%s", out)
	}
	if strings.Contains(out, "spawned") {
		t.Fatalf("something was started:\n%s", out)
	}
	// --check finds the same fault without starting anything, exit 2 ...
	stdout, stderr, code := testkit.Run(exec.Command(binary, "--check", "-c", conf))
	if code != 2 || !strings.Contains(stderr, "bad.conf:4: [program:b] user=tksup-no-such-user") || stdout != "" {
		t.Fatalf("--check: exit %d, stdout %q, stderr %q; want 2 naming bad.conf:4 (the user= line)", code, stdout, stderr)
	}
	// ... and passes a good config, saying what would run.
	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte("[unix_http_server]\nfile=%(here)s/s.sock\n[program:a]\ncommand=/bin/sleep 1000\n"), 0o644)
	stdout, stderr, code = testkit.Run(exec.Command(binary, "--check", "-c", good))
	if code != 0 || stdout != good+": ok, 1 programs in 1 groups\nsocket: "+filepath.Join(dir, "s.sock")+"\n" || stderr != "" {
		t.Fatalf("--check of a good config: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "s.sock")); !os.IsNotExist(err) {
		t.Fatalf("--check opened the socket: %v", err)
	}
}

// TestAsPID1 runs the supervisor as PID 1 of a new PID namespace, as in the
// container: orphans are reaped and SIGTERM stops everything, exit 0.
func TestAsPID1(t *testing.T) {
	testkit.RequireRoot(t)
	unshare := testkit.RequireCommand(t, "unshare")
	tr := startWrapped(t, []string{unshare, "--pid", "--fork", "--mount-proc", "--kill-child=SIGTERM"}, `
[program:orphaner]
command = /bin/sh -c 'for i in 1 2 3; do sh -c "sleep 1 &"; done; exec sleep 1000'
startsecs = 0
`)
	tr.waitState("orphaner", "RUNNING", 5*time.Second)
	if v, err := tr.call("supervisor.getPID"); err != nil || v != 1 {
		t.Fatalf("getPID = %v, %v; want 1", v, err)
	}
	// The supervisor's pid as seen from here: the child of unshare.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", tr.cmd.Process.Pid, tr.cmd.Process.Pid))
	if err != nil || len(strings.Fields(string(b))) != 1 {
		t.Fatalf("children of unshare: %q, %v", b, err)
	}
	sup, _ := strconv.Atoi(strings.Fields(string(b))[0])
	tr.waitFor("the orphans adopted by PID 1", 5*time.Second, func() bool {
		for _, c := range childrenOf(sup) {
			if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c)); string(cmd) == "sleep\x001\x00" {
				return true
			}
		}
		return false
	})
	time.Sleep(1500 * time.Millisecond) // the orphans' sleep 1 ends
	tr.waitFor("no zombie under PID 1", 5*time.Second, func() bool { return len(zombieChildren(sup)) == 0 })
	syscall.Kill(sup, syscall.SIGTERM)
	select {
	case err := <-tr.exited:
		tr.exited <- err
		if err != nil {
			t.Fatalf("PID 1 exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("PID 1 did not exit after SIGTERM")
	}
}
