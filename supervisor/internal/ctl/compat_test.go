package ctl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// The compatibility tests run a supervisord twice, on twin configs, and
// drive one twin with Python's supervisorctl and the other with ours, step
// by step, comparing normalized output and exit status. Read-only steps
// whose output depends on the server's own log (maintail, tail -f) run both
// clients against the same twin. The supervisord is Debian's Python
// supervisord 4.2.5 or our terok-supervisord: together with the tests of
// cmd/terok-supervisord (Python's client against our daemon) this closes the
// matrix of both clients against both daemons.

const compatConf = `[unix_http_server]
file=%(here)s/s.sock

[inet_http_server]
port=127.0.0.1:{PORT}
username=ctluser
password=ctlpass

[supervisord]
logfile=%(here)s/main.log
pidfile=%(here)s/sd.pid
childlogdir=%(here)s
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/s.sock

[program:sleeper]
command=sleep 1000
startsecs=0
stopwaitsecs=3

[program:echo]
command=sh -c 'echo hello; echo oops >&2; exec sleep 1000'
startsecs=0
stopwaitsecs=3

[program:off]
command=sleep 1000
autostart=false
startsecs=0

[group:grp]
programs=g1,g2

[program:g1]
command=sleep 1000
startsecs=0

[program:g2]
command=sleep 1000
startsecs=0

[program:multi]
command=sleep 1000
process_name=%(program_name)s_%(process_num)02d
numprocs=2
startsecs=0

[program:bad]
command=/nonexistent/tkctl-no-such-binary
autostart=false
startretries=0

[include]
files=conf.d/*.conf
`

// includedConf is conf.d/10-inc.conf; overrideConf, written later as
// conf.d/50-over.conf, overrides one key of its [program:inc].
const (
	includedConf = `[program:inc]
command=sh -c 'echo inc-$TKMX; exec sleep 1000'
environment=TKMX=base
startsecs=0
stopwaitsecs=3
`
	overrideConf = `[program:inc]
environment=TKMX=override
`
)

// ourSupervisorctl is the path of our built supervisorctl.
func ourSupervisorctl(t *testing.T) string {
	t.Helper()
	return testkit.Build(t, "../../cmd/supervisorctl")
}

// daemon is how to run one kind of supervisord in the foreground.
type daemon struct {
	name string
	argv []string // followed by -c FILE
}

// pythonDaemon is Debian's Python supervisord, in the foreground.
func pythonDaemon(t *testing.T) daemon {
	t.Helper()
	return daemon{name: "python", argv: []string{testkit.RequireCommand(t, "supervisord"), "-n"}}
}

// terokDaemon is our terok-supervisord.
func terokDaemon(t *testing.T) daemon {
	t.Helper()
	return daemon{name: "terok", argv: []string{testkit.Build(t, "../../cmd/terok-supervisord")}}
}

// server is one supervisord under test.
type server struct {
	dir  string
	conf string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// autostarted is how many processes of compatConf start by themselves.
const autostarted = 7

// startServer runs d on a fresh temp dir and waits until every autostart
// program is RUNNING.
func startServer(t *testing.T, d daemon) *server {
	t.Helper()
	dir, err := os.MkdirTemp("", "tkmx-"+d.name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &server{dir: dir, conf: filepath.Join(dir, "supervisord.conf"), port: testkit.FreePort(t), done: make(chan struct{})}
	conf := strings.ReplaceAll(compatConf, "{PORT}", fmt.Sprint(s.port))
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.writeConfD(t, "10-inc.conf", includedConf)
	argv := append(append([]string{}, d.argv...), "-c", s.conf)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Dir = dir
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.done
			}
		}
		if t.Failed() {
			t.Logf("%s supervisord in %s said:\n%s", d.name, dir, out.String())
		}
	})
	s.waitRunning(t, autostarted)
	return s
}

// writeConfD writes (or, with empty text, removes) conf.d/name.
func (s *server) writeConfD(t *testing.T, name, text string) {
	t.Helper()
	path := filepath.Join(s.dir, "conf.d", name)
	if text == "" {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitRunning waits (bounded) until want processes are RUNNING.
func (s *server) waitRunning(t *testing.T, want int) {
	t.Helper()
	c, err := xmlrpc.NewClient("unix://"+filepath.Join(s.dir, "s.sock"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		v, err := c.CallTimeout("supervisor.getAllProcessInfo")
		if err == nil {
			n := 0
			for _, e := range v.([]any) {
				if e.(map[string]any)["statename"] == "RUNNING" {
					n++
				}
			}
			if n == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("supervisord in %s: %d processes not RUNNING within 15s", s.dir, want)
}

// settle waits (bounded) until no process is STARTING, BACKOFF or
// STOPPING, so both twins are compared in the same steady state. A server
// that no longer answers is settled.
func (s *server) settle(t *testing.T) {
	t.Helper()
	c, err := xmlrpc.NewClient("unix://"+filepath.Join(s.dir, "s.sock"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v, err := c.CallTimeout("supervisor.getAllProcessInfo")
		if err != nil {
			return
		}
		busy := false
		for _, e := range v.([]any) {
			switch e.(map[string]any)["statename"] {
			case "STARTING", "BACKOFF", "STOPPING":
				busy = true
			}
		}
		if !busy {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("supervisord in %s: processes still changing state after 10s", s.dir)
}

// pids maps the PID of every running process of s, and of supervisord
// itself, to its name, as s reports them now. A server that no longer
// answers has none.
func (s *server) pids(t *testing.T) map[string]string {
	t.Helper()
	c, err := xmlrpc.NewClient("unix://"+filepath.Join(s.dir, "s.sock"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if v, err := c.CallTimeout("supervisor.getPID"); err == nil {
		m[fmt.Sprint(v)] = "supervisord"
	}
	if v, err := c.CallTimeout("supervisor.getAllProcessInfo"); err == nil {
		for _, e := range v.([]any) {
			in := e.(map[string]any)
			if pid, _ := in["pid"].(int); pid > 0 {
				m[fmt.Sprint(pid)] = in["group"].(string) + ":" + in["name"].(string)
			}
		}
	}
	return m
}

// pidAt finds the places a client prints a PID: "pid N," in a status line,
// and a line that is only a number (the pid command). Other numbers (byte
// counts in help texts, ports) are left alone even when they happen to be
// some process's PID.
var pidAt = regexp.MustCompile(`pid [1-9]\d*,|(?m)^[1-9]\d*$`)

// withPIDs replaces each PID of out that is one of pids with PID(name):
// the twins' PIDs differ, but each client must print the PID of the right
// process of its own twin; a wrong one stays a number and differs.
func withPIDs(out string, pids map[string]string) string {
	return pidAt.ReplaceAllStringFunc(out, func(m string) string {
		n := strings.TrimSuffix(strings.TrimPrefix(m, "pid "), ",")
		name, ok := pids[n]
		if !ok {
			return m
		}
		return strings.Replace(m, n, "PID("+name+")", 1)
	})
}

// waitExit waits (bounded) for supervisord to end after shutdown.
func (s *server) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("supervisord in %s did not exit within 15s of shutdown", s.dir)
	}
}

// run executes bin with args against s, with a bounded time.
func run(t *testing.T, bin string, s *server, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out), code
}

var normalizers = []struct {
	re  *regexp.Regexp
	rep string
}{
	// PIDs are not normalised away: withPIDs names each by the process
	// that really has it on that twin, and a wrong one stays a number.
	{regexp.MustCompile(`uptime \d+:\d\d:\d\d`), "uptime U"},
	// The stop time of a STOPPED/EXITED/FATAL program (Python's
	// "%b %d %I:%M %p"): the twins do not stop in the same minute.
	{regexp.MustCompile(`\b[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M\b`), "DATE"},
	{regexp.MustCompile(`/tmp/tkmx-[^/\s]+`), "DIR"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`: file: \S+ line: \d+`), ""},
	{regexp.MustCompile(`For help, use \S+ -h`), "For help, use PROG -h"},
}

func normalize(out string, sorted bool) string {
	for _, n := range normalizers {
		out = n.re.ReplaceAllString(out, n.rep)
	}
	if sorted {
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		sort.Strings(lines)
		out = strings.Join(lines, "\n") + "\n"
	}
	return out
}

// step is one command given to both clients.
type step struct {
	args   string
	sorted bool   // the server answers in completion order: compare sorted lines
	same   bool   // run both clients against the Python client's twin
	own    bool   // the answer names the daemon itself (its version): not compared across daemons
	expect string // Python's client's output must contain this
	before func(t *testing.T, py, ours *server)
}

// TestCompatibility runs the steps on twin Python supervisords and on twin
// terok-supervisords. On each pair, our client must answer as Python's;
// and Python's client must get the same answers from both daemons.
func TestCompatibility(t *testing.T) {
	t.Parallel()
	pyctl := testkit.RequireCommand(t, "supervisorctl")
	bin := ourSupervisorctl(t)
	daemons := []daemon{pythonDaemon(t), terokDaemon(t)}
	seen := make([][]said, len(daemons))
	t.Run("clients", func(t *testing.T) {
		for i, d := range daemons {
			t.Run(d.name, func(t *testing.T) {
				t.Parallel()
				seen[i] = compareClients(t, pyctl, bin, d)
			})
		}
	})
	if t.Failed() {
		return
	}
	t.Run("daemons", func(t *testing.T) {
		for i, st := range compatSteps() {
			py, ours := seen[0][i], seen[1][i]
			if !st.same && !st.own && py != ours {
				t.Errorf("step %d %q: Python's client on Python's supervisord (exit %d):\n%s\non terok-supervisord (exit %d):\n%s",
					i, st.args, py.code, py.out, ours.code, ours.out)
			}
		}
	})
}

// said is a client's normalized output and exit status for one step.
type said struct {
	out  string
	code int
}

// compatSteps is the sequence of commands both clients are given.
func compatSteps() []step {
	editConf := func(t *testing.T, s *server) {
		b, err := os.ReadFile(s.conf)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte("[program:sleeper]\ncommand=sleep 1000"), []byte("[program:sleeper]\ncommand=sleep 999"), 1)
		b = bytes.Replace(b, []byte("[program:off]"), []byte("[program:gone]"), 1)
		b = append(b, "\n[program:added]\ncommand=sleep 1000\nstartsecs=0\n"...)
		if err := os.WriteFile(s.conf, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []step{
		{args: "status"},
		{args: "status sleeper"},
		{args: "status grp:*"},
		{args: "status nope grp:* nope:*"},
		{args: "status off"},
		{args: "status sleeper off"},
		{args: "version", own: true},
		{args: "version extra"},
		{args: "pid"},
		{args: "pid sleeper"},
		{args: "pid off"},
		{args: "pid all"},
		{args: "pid nope"},
		{args: "avail"},
		{args: "avail extra"},
		{args: "start off"},
		{args: "start off"},
		{args: "start nope"},
		{args: "start nope:*"},
		{args: "start bad"},
		{args: "start"},
		{args: "stop off"},
		{args: "stop off"},
		{args: "stop nope:*"},
		{args: "stop"},
		{args: "stop grp:*", sorted: true},
		{args: "status grp:*"},
		{args: "start grp:*", sorted: true},
		{args: "start all", sorted: true},
		{args: "stop all", sorted: true},
		{args: "start all", sorted: true},
		{args: "restart sleeper"},
		{args: "restart grp:*", sorted: true},
		{args: "restart"},
		{args: "restart all", sorted: true},
		{args: "signal HUP sleeper"},
		{args: "signal USR1 grp:*", sorted: true},
		{args: "signal BOGUS sleeper"},
		{args: "signal HUP nope"},
		{args: "signal HUP nope:*"},
		{args: "signal"},
		{args: "stop off"},
		{args: "signal HUP off"},
		{args: "signal HUP all", sorted: true},
		{args: "tail echo"},
		{args: "tail echo stderr"},
		{args: "tail -3 echo"},
		{args: "tail -3 echo STDERR"},
		{args: "tail nope"},
		{args: "tail -x echo"},
		{args: "tail echo bogus"},
		{args: "tail"},
		{args: "tail a b c d"},
		{args: "tail -5"},
		{args: "tail -f nope"},
		{args: "tail -f nope stderr"},
		{args: "maintail -300", same: true},
		{args: "maintail", same: true},
		{args: "maintail x"},
		{args: "maintail -x"},
		{args: "maintail a b"},
		{args: "clear echo"},
		{args: "clear nope"},
		{args: "clear grp:*"},
		{args: "clear all"},
		{args: "tail echo"},
		{args: "help"},
		{args: "help tail"},
		{args: "help nope"},
		{args: "bogus command"},
		{args: "reread"},
		{args: "reread extra"},
		{args: "update"},
		{args: "reread", before: func(t *testing.T, py, ours *server) { editConf(t, py); editConf(t, ours) }},
		{args: "update nope"},
		{args: "update sleeper"},
		{args: "update all"},
		{args: "reread"},
		{args: "tail inc"},
		{args: "reread", expect: "inc: changed", before: func(t *testing.T, py, ours *server) {
			py.writeConfD(t, "50-over.conf", overrideConf)
			ours.writeConfD(t, "50-over.conf", overrideConf)
		}},
		{args: "avail"},
		{args: "update inc", expect: "inc: updated process group"},
		{args: "status inc", expect: "RUNNING"},
		{args: "tail inc", expect: "inc-override"},
		{args: "update", before: func(t *testing.T, py, ours *server) {
			py.writeConfD(t, "50-over.conf", "")
			ours.writeConfD(t, "50-over.conf", "")
		}},
		{args: "tail inc"},
		{args: "status"},
		{args: "status sleeper added gone off"},
		{args: "remove grp"},
		{args: "stop grp:*", sorted: true},
		{args: "remove grp"},
		{args: "remove grp"},
		{args: "add grp"},
		{args: "add grp"},
		{args: "add nope"},
		{args: "-s unix:///nonexistent/tkctl.sock status"},
		{args: "-s unix:///nonexistent/tkctl.sock start x"},
		{args: "-s unix:///nonexistent/tkctl.sock avail"},
		{args: "-s http://127.0.0.1:1 status"},
		{args: "-c nonexistent.conf status"},
		{args: "--bogus"},
		{args: "-s notaurl status"},
		{args: "shutdown extra"},
		{args: "shutdown"},
	}
}

// compareClients starts two twins of d, drives one with Python's client
// pyctl and the other with ours, and returns what Python's client said.
func compareClients(t *testing.T, pyctl, bin string, d daemon) []said {
	py, ours := startServer(t, d), startServer(t, d)
	steps := compatSteps()
	seen := make([]said, len(steps))
	for i, st := range steps {
		if st.before != nil {
			st.before(t, py, ours)
		}
		py.settle(t)
		ours.settle(t)
		target := ours
		if st.same {
			target = py
		}
		args := strings.Fields(st.args)
		if !strings.HasPrefix(st.args, "-") {
			args = append([]string{"-c"}, args...)
		}
		pyArgs, ourArgs := args, args
		if args[0] == "-c" {
			pyArgs = append([]string{"-c", py.conf}, args[1:]...)
			ourArgs = append([]string{"-c", target.conf}, args[1:]...)
		}
		pyOut, pyCode := run(t, pyctl, py, pyArgs...)
		ourOut, ourCode := run(t, bin, target, ourArgs...)
		pyOut, ourOut = withPIDs(pyOut, py.pids(t)), withPIDs(ourOut, target.pids(t))
		pn, on := normalize(pyOut, st.sorted), normalize(ourOut, st.sorted)
		if pn != on || pyCode != ourCode {
			t.Errorf("step %d %q:\nPython (exit %d):\n%s\nours (exit %d):\n%s", i, st.args, pyCode, pn, ourCode, on)
		}
		if !strings.Contains(pn, st.expect) {
			t.Errorf("step %d %q: Python's client said (exit %d):\n%s\nwhich lacks %q", i, st.args, pyCode, pn, st.expect)
		}
		seen[i] = said{pn, pyCode}
	}
	py.waitExit(t)
	ours.waitExit(t)
	for _, args := range []string{"shutdown", "status"} {
		pyOut, pyCode := run(t, pyctl, py, "-c", py.conf, args)
		ourOut, ourCode := run(t, bin, ours, "-c", ours.conf, args)
		if normalize(pyOut, false) != normalize(ourOut, false) || pyCode != ourCode {
			t.Errorf("after shutdown %q: Python (exit %d) %q, ours (exit %d) %q", args, pyCode, pyOut, ourCode, ourOut)
		}
	}
	return seen
}

// TestCompatibilityAuth compares both clients on the password-protected
// inet listener.
func TestCompatibilityAuth(t *testing.T) {
	t.Parallel()
	onBothDaemons(t, compareAuth)
}

// onBothDaemons runs compare in parallel subtests, once with Python's
// supervisord and once with ours, giving it Python's client and ours.
func onBothDaemons(t *testing.T, compare func(t *testing.T, pyctl, bin string, d daemon)) {
	pyctl := testkit.RequireCommand(t, "supervisorctl")
	bin := ourSupervisorctl(t)
	for _, d := range []daemon{pythonDaemon(t), terokDaemon(t)} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			compare(t, pyctl, bin, d)
		})
	}
}

func compareAuth(t *testing.T, pyctl, bin string, d daemon) {
	s := startServer(t, d)
	url := fmt.Sprintf("http://127.0.0.1:%d", s.port)
	for _, args := range [][]string{
		{"-s", url, "status"},
		{"-s", url, "-u", "ctluser", "-p", "wrong", "status"},
		{"-s", url, "-u", "ctluser", "-p", "ctlpass", "status", "sleeper"},
		{"-s", url, "-u", "ctluser", "-p", "ctlpass", "tail", "echo"},
		{"-s", url, "-u", "ctluser", "-p", "ctlpass", "avail"},
		{"-s", url, "avail"},
	} {
		pyOut, pyCode := run(t, pyctl, s, args...)
		ourOut, ourCode := run(t, bin, s, args...)
		if normalize(pyOut, false) != normalize(ourOut, false) || pyCode != ourCode {
			t.Errorf("%v:\nPython (exit %d):\n%s\nours (exit %d):\n%s", args, pyCode, pyOut, ourCode, ourOut)
		}
	}
}

// follow starts bin's "tail -f"-like command, waits (bounded) until its
// output contains want, interrupts it like Ctrl-C and returns its output
// and exit status.
func follow(t *testing.T, bin string, s *server, want string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	var buf testkit.SyncBuffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(buf.String(), want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	found := strings.Contains(buf.String(), want)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v did not end within 10s of SIGINT", bin, args)
	}
	if !found {
		t.Fatalf("%s %v: no %q within 15s; got %q", bin, args, want, buf.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return buf.String(), code
}

// pyInterruptedConnect matches the line Python's supervisorctl prints when
// Ctrl-C lands while its tail -f is connecting.
var pyInterruptedConnect = regexp.MustCompile(`(?m)^\S+ Cannot connect, error: <class 'KeyboardInterrupt'> \(\)\n`)

// TestCompatibilityTailFollow streams a program's log and the main log
// with both clients until interrupted, and follows a new line written
// while streaming.
func TestCompatibilityTailFollow(t *testing.T) {
	t.Parallel()
	onBothDaemons(t, compareFollow)
}

func compareFollow(t *testing.T, pyctl, bin string, d daemon) {
	s := startServer(t, d)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tail", "-f", "echo"}, "hello\n"},
		{[]string{"tail", "-f", "echo", "stderr"}, "oops\n"},
	} {
		args := append([]string{"-c", s.conf}, tc.args...)
		pyOut, pyCode := follow(t, pyctl, s, tc.want, args...)
		ourOut, ourCode := follow(t, bin, s, tc.want, args...)
		// Python's client, interrupted while it happens to be reconnecting,
		// reports the KeyboardInterrupt as a connect error instead of the
		// empty line it prints otherwise: a race inside Python's client,
		// not a difference in what was streamed.
		pyOut = pyInterruptedConnect.ReplaceAllString(pyOut, "\n")
		if pyOut != ourOut || pyCode != ourCode {
			t.Errorf("%v:\nPython (exit %d):\n%q\nours (exit %d):\n%q", tc.args, pyCode, pyOut, ourCode, ourOut)
		}
	}
	// maintail -f: both print the header, then the main log as it grows
	// (each daemon writes its own log format; both name the last program
	// started), the same bytes from both clients.
	var mains []string
	for _, bin := range []string{pyctl, bin} {
		out, code := follow(t, bin, s, "sleeper", "-c", s.conf, "maintail", "-f")
		if code != 0 || !strings.HasPrefix(out, "==> Press Ctrl-C to exit <==\n") || !strings.HasSuffix(out, "\n") {
			t.Errorf("%s maintail -f: exit %d, output %q", bin, code, out)
		}
		mains = append(mains, out)
	}
	// The same race in Python's client as for tail -f above.
	mains[0] = pyInterruptedConnect.ReplaceAllString(mains[0], "\n")
	if mains[0] != mains[1] {
		t.Errorf("maintail -f:\nPython:\n%q\nours:\n%q", mains[0], mains[1])
	}
	// Bytes written to the log while we stream arrive, and the stream stays
	// open until SIGINT.
	c, err := xmlrpc.NewClient("unix://"+filepath.Join(s.dir, "s.sock"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.CallTimeout("supervisor.getProcessInfo", "sleeper")
	if err != nil {
		t.Fatal(err)
	}
	logfile, _ := v.(map[string]any)["stdout_logfile"].(string)
	if logfile == "" {
		t.Fatalf("sleeper has no stdout_logfile: %v", v)
	}
	cmd := exec.Command(bin, "-c", s.conf, "tail", "-f", "sleeper")
	var buf testkit.SyncBuffer
	cmd.Stdout = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	defer func() {
		select {
		case <-waitDone:
		default:
			cmd.Process.Kill()
			<-waitDone
		}
	}()
	waitFor := func(want string) {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(buf.String(), want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("tail -f: no %q within 10s; got %q", want, buf.String())
		}
	}
	waitFor("Ctrl-C to exit")
	for i := 0; i < 3; i++ {
		line := fmt.Sprintf("tkctl-appended-%d\n", i)
		f, err := os.OpenFile(logfile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(line)
		f.Close()
		waitFor(line)
	}
	select {
	case err := <-waitDone:
		t.Fatalf("tail -f ended by itself (%v): %q", err, buf.String())
	default:
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-waitDone:
		waitDone <- err
		if err != nil {
			t.Fatalf("tail -f after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f did not end within 10s of SIGINT")
	}
	if !strings.HasSuffix(buf.String(), "tkctl-appended-2\n\n") {
		t.Fatalf("tail -f output should end with the last line and an empty line: %q", buf.String())
	}
}

// TestMain removes the binaries testkit.Build compiled.
func TestMain(m *testing.M) { testkit.Main(m) }

// TestNormalizeClock: status lines of the twins that differ only in their
// clocks (stop time, uptime) and in PIDs that each belong to the right
// process of their own twin compare equal; a different state, or a PID of
// another process, does not.
func TestNormalizeClock(t *testing.T) {
	py := "grp:g1                           STOPPED   Dec 02 04:44 AM\ngrp:g2                           RUNNING   pid 123, uptime 0:00:03\n"
	ours := "grp:g1                           STOPPED   Dec 02 04:45 AM\ngrp:g2                           RUNNING   pid 4567, uptime 0:01:00\n"
	pyPIDs := map[string]string{"123": "grp:g2", "99": "supervisord"}
	ourPIDs := map[string]string{"4567": "grp:g2", "4000": "grp:g1", "98": "supervisord"}
	cmp := func(o string, pids map[string]string) string { return normalize(withPIDs(o, pids), false) }
	if cmp(py, pyPIDs) != cmp(ours, ourPIDs) {
		t.Fatalf("clocks not normalised:\n%s\n%s", cmp(py, pyPIDs), cmp(ours, ourPIDs))
	}
	if other := strings.Replace(ours, "STOPPED", "EXITED ", 1); cmp(py, pyPIDs) == cmp(other, ourPIDs) {
		t.Fatal("normalisation hid a different state")
	}
	if wrong := strings.Replace(ours, "pid 4567", "pid 4000", 1); cmp(py, pyPIDs) == cmp(wrong, ourPIDs) {
		t.Fatal("normalisation hid the PID of another process")
	}
	if cmp("99\n", pyPIDs) != cmp("98\n", ourPIDs) || cmp("99\n", pyPIDs) == cmp("4567\n", ourPIDs) {
		t.Fatal("supervisord's own PID is not checked")
	}
	// A number that is not printed as a PID stays, even when it equals one.
	if got := withPIDs("last 123 *bytes* of process stderr\n", pyPIDs); got != "last 123 *bytes* of process stderr\n" {
		t.Fatalf("a byte count was taken for a PID: %q", got)
	}
}
