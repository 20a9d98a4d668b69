package ctl

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// fakeServer answers XML-RPC calls from a table and logs them. It stands
// in for the network seam only; the compatibility tests use the real
// Python supervisord.
type fakeServer struct {
	answers map[string]any // method -> value, error, or func(params) (any, error)
	calls   []string
}

func (f *fakeServer) Call(_ context.Context, method string, params ...any) (any, error) {
	f.calls = append(f.calls, strings.TrimSpace(method+" "+strings.Trim(fmt.Sprintf("%v", params), "[]")))
	a, ok := f.answers[method]
	if !ok {
		if method == "supervisor.getVersion" {
			return "3.0", nil
		}
		return nil, &xmlrpc.Fault{Code: faultUnknownMethod, String: "UNKNOWN_METHOD"}
	}
	switch v := a.(type) {
	case error:
		return nil, v
	case func(...any) (any, error):
		return v(params...)
	}
	return a, nil
}

func info(group, name, state string, code, pid int, desc string) map[string]any {
	return map[string]any{"group": group, "name": name, "statename": state, "state": code, "pid": pid, "description": desc}
}

func res(group, name string, status int, desc string) map[string]any {
	return map[string]any{"group": group, "name": name, "status": status, "description": desc}
}

func fault(code int, s string) error { return &xmlrpc.Fault{Code: code, String: s} }

func conf(group, name string, inuse, auto bool, gp, pp int) map[string]any {
	return map[string]any{"group": group, "name": name, "inuse": inuse, "autostart": auto, "group_prio": gp, "process_prio": pp}
}

var allInfo = []any{
	info("web", "web", "RUNNING", 20, 4242, "pid 4242, uptime 1:02:03"),
	info("gate", "gate", "STARTING", 10, 0, ""),
	info("shield", "shield", "FATAL", 200, 0, "Exited too quickly (process log may have details)"),
	info("a-very-long-group-name-indeed", "and-a-long-process-name", "BACKOFF", 30, 0, "Exited too quickly"),
	info("grp", "one", "STOPPED", 0, 0, "Not started"),
	info("grp", "two", "EXITED", 100, 0, "Nov 29 10:00 PM"),
}

func connErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", errno)}
}

// commandCase is one command line given to a client over a server whose
// answers come from a table.
type commandCase struct {
	name    string
	line    string
	answers map[string]any
}

// commandCases are the cases of TestCommandsGolden and
// TestCommandsAgainstPython; testdata/golden/README.md says where each
// golden came from.
var commandCases = []commandCase{
	{"status_all", "status", map[string]any{"supervisor.getAllProcessInfo": allInfo}},
	{"status_running_only", "status web", map[string]any{"supervisor.getAllProcessInfo": allInfo}},
	{"status_bad_names", "status nope grp:* nope:* web", map[string]any{"supervisor.getAllProcessInfo": allInfo}},
	{"status_no_socket", "status", map[string]any{"supervisor.getVersion": connErr(syscall.ENOENT)}},
	{"status_refused", "status", map[string]any{"supervisor.getVersion": connErr(syscall.ECONNREFUSED)}},
	{"status_old_api", "status", map[string]any{"supervisor.getVersion": "2.0"}},
	{"start_no_socket", "start web", map[string]any{"supervisor.getVersion": connErr(syscall.ENOENT)}},
	{"start_no_rpcinterface", "start web", map[string]any{"supervisor.getVersion": fault(faultUnknownMethod, "UNKNOWN_METHOD")}},
	{"start_all_every_code", "start all", map[string]any{"supervisor.startAllProcesses": []any{
		res("a", "a", faultBadName, ""), res("b", "b", faultNoFile, ""), res("g", "c", faultNotExecutable, ""),
		res("d", "d", faultAlreadyStarted, ""), res("e", "e", faultAbnormalTerm, ""), res("f", "f", faultSuccess, ""),
		res("s", "s", faultSpawnError, ""),
	}}},
	{"start_one_spawn_error", "start web", map[string]any{"supervisor.startProcess": fault(faultSpawnError, "SPAWN_ERROR: web")}},
	{"start_group_bad", "start nope:*", map[string]any{"supervisor.startProcessGroup": fault(faultBadName, "BAD_NAME: nope")}},
	{"start_unknown_code", "start all", map[string]any{"supervisor.startAllProcesses": []any{res("x", "x", 12345, "")}}},
	{"start_missing_name", "start", nil},
	{"stop_mixed", "stop web grp:* nope", map[string]any{
		"supervisor.stopProcess": func(p ...any) (any, error) {
			if p[0] == "nope" {
				return nil, fault(faultBadName, "BAD_NAME: nope")
			}
			return true, nil
		},
		"supervisor.stopProcessGroup": []any{res("grp", "one", faultNotRunning, ""), res("grp", "two", faultFailed, "grp:two: ERROR (oops)")},
	}},
	{"signal_all", "signal HUP all", map[string]any{"supervisor.signalAllProcesses": []any{
		res("web", "web", faultSuccess, ""), res("grp", "one", faultNotRunning, ""), res("x", "x", faultBadSignal, ""),
	}}},
	{"signal_usage", "signal HUP", nil},
	{"pid_variants", "pid web gate nope", map[string]any{"supervisor.getProcessInfo": func(p ...any) (any, error) {
		switch p[0] {
		case "web":
			return info("web", "web", "RUNNING", 20, 4242, ""), nil
		case "gate":
			return info("gate", "gate", "STOPPED", 0, 0, ""), nil
		}
		return nil, fault(faultBadName, "BAD_NAME")
	}}},
	{"pid_supervisord", "pid", map[string]any{"supervisor.getPID": 1}},
	{"avail", "avail", map[string]any{"supervisor.getAllConfigInfo": []any{
		conf("web", "web", true, true, 999, 10), conf("grp", "one", false, false, 5, 1),
		conf("a-group-name-of-thirty-two-chars", "and-more", true, false, 1, 2),
	}}},
	{"avail_shutting_down", "avail", map[string]any{"supervisor.getAllConfigInfo": fault(faultShutdownState, "SHUTDOWN_STATE")}},
	{"reread_changes", "reread", map[string]any{"supervisor.reloadConfig": []any{[]any{[]any{"new", "b"}, []any{"chg"}, []any{"old", "b"}}}}},
	{"reread_none", "reread", map[string]any{"supervisor.reloadConfig": []any{[]any{[]any{}, []any{}, []any{}}}}},
	{"reread_cant", "reread", map[string]any{"supervisor.reloadConfig": fault(faultCantReread, "could not find config file /x")}},
	{"update_all", "update", map[string]any{
		"supervisor.reloadConfig":       []any{[]any{[]any{"new"}, []any{"chg"}, []any{"old", "stuck"}}},
		"supervisor.stopProcessGroup":   func(p ...any) (any, error) { return stopAnswer(p[0]), nil },
		"supervisor.removeProcessGroup": true, "supervisor.addProcessGroup": true,
	}},
	{"update_some", "update chg nope new", map[string]any{
		"supervisor.reloadConfig":       []any{[]any{[]any{"new"}, []any{"chg", "other"}, []any{"old"}}},
		"supervisor.getAllProcessInfo":  []any{info("chg", "chg", "RUNNING", 20, 1, ""), info("old", "old", "RUNNING", 20, 2, "")},
		"supervisor.stopProcessGroup":   []any{},
		"supervisor.removeProcessGroup": true, "supervisor.addProcessGroup": true,
	}},
	{"tail_faults", "tail web stderr", map[string]any{"supervisor.readProcessStderrLog": fault(faultNoFile, "NO_FILE")}},
	{"tail_bytes", "tail -5 web", map[string]any{"supervisor.readProcessStdoutLog": "hello"}},
	{"tail_bad_channel", "tail web stdin", nil},
	{"maintail_default", "maintail", map[string]any{"supervisor.readLog": "main log\n"}},
	{"clear_group_spec", "clear grp:*", map[string]any{"supervisor.clearProcessLogs": fault(faultBadName, "BAD_NAME")}},
	{"shutdown_no_socket", "shutdown", map[string]any{"supervisor.shutdown": connErr(syscall.ENOENT)}},
	{"shutdown_again", "shutdown", map[string]any{"supervisor.shutdown": fault(faultShutdownState, "SHUTDOWN_STATE")}},
	{"avail_no_socket", "avail", map[string]any{"supervisor.getAllConfigInfo": connErr(syscall.ENOENT)}},
	{"unauthorized", "version", map[string]any{"supervisor.getVersion": &xmlrpc.HTTPError{Status: 401}}},
	{"unknown_command", "frobnicate now", nil},
	{"question_mark_help", "?stop", nil},
	{"version", "version", map[string]any{"supervisor.getSupervisorVersion": "4.2.5"}},
}

func TestCommandsGolden(t *testing.T) {
	tests := commandCases
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeServer{answers: tc.answers}
			var out bytes.Buffer
			c := NewController(context.Background(), "unix:///run/x.sock", nil, nil,
				func(string) (Caller, error) { return f, nil }, strings.NewReader(""), &out, &out)
			c.OneCmd(tc.line)
			got := fmt.Sprintf("%s--- exit %d\n--- calls\n%s\n", out.String(), c.ExitStatus(), strings.Join(f.calls, "\n"))
			golden(t, filepath.Join("testdata/golden", tc.name+".golden"), got)
		})
	}
}

func stopAnswer(group any) []any {
	if group == "stuck" {
		return []any{res("stuck", "stuck", faultFailed, "stuck: ERROR (failed)")}
	}
	return []any{}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Fatalf("%s differs:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestHelpGolden compares every help topic with the output of Python's
// supervisorctl 4.2.5, captured in testdata/help.
func TestHelpGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/help/*.golden")
	if err != nil || len(files) < 20 {
		t.Fatalf("help goldens: %v, %d files", err, len(files))
	}
	for _, file := range files {
		topic := strings.TrimSuffix(filepath.Base(file), ".golden")
		if topic == "_all" {
			topic = ""
		}
		var out bytes.Buffer
		c := NewController(context.Background(), "unix:///x", nil, nil, nil, strings.NewReader(""), &out, &out)
		c.OneCmd("help " + topic)
		want, _ := os.ReadFile(file)
		if out.String() != string(want) || c.ExitStatus() != 0 {
			t.Errorf("help %s:\nwant %q\ngot  %q (exit %d)", topic, want, out.String(), c.ExitStatus())
		}
	}
}

func TestInteractiveLoop(t *testing.T) {
	f := &fakeServer{answers: map[string]any{
		"supervisor.getAllProcessInfo": []any{info("web", "web", "RUNNING", 20, 7, "pid 7, uptime 0:00:01")},
		"supervisor.getPID":            1,
	}}
	var out bytes.Buffer
	c := NewController(context.Background(), "unix:///x", nil, nil,
		func(string) (Caller, error) { return f, nil }, strings.NewReader("pid\n\nbogus\nquit\nstatus\n"), &out, &out)
	c.Prompt = "terok"
	c.Loop()
	want := "web                              RUNNING   pid 7, uptime 0:00:01\n" +
		"terok> 1\nterok> terok> *** Unknown syntax: bogus\nterok> \n"
	if out.String() != want {
		t.Fatalf("loop output:\n%q\nwant\n%q", out.String(), want)
	}
	// EOF ends the loop with an empty line, and shutdown asks first.
	out.Reset()
	c = NewController(context.Background(), "unix:///x", nil, nil,
		func(string) (Caller, error) { return f, nil }, strings.NewReader("shutdown\nn\n"), &out, &out)
	c.Loop()
	if !strings.HasSuffix(out.String(), "supervisor> Really shut the remote supervisord process down y/N? supervisor> \n") {
		t.Fatalf("shutdown confirmation: %q", out.String())
	}
	for _, call := range f.calls {
		if call == "supervisor.shutdown" {
			t.Fatal("shutdown was called though the answer was n")
		}
	}
}

func TestMainUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{[]string{"-h"}, 0, "Usage: prog [options] [action [arguments]]", ""},
		{[]string{"-x"}, 2, "", "Error: option -x not recognized\nFor help, use prog -h\n"},
		{[]string{"-c", "testdata/config/nosection.conf", "status"}, 2, "", "Error: .ini file does not include supervisorctl section\nFor help, use prog -h\n"},
		{[]string{"-s", "unix:///nonexistent/tkctl.sock", "status"}, 4, "unix:///nonexistent/tkctl.sock no such file\n", ""},
		{[]string{"-s", "unix:///nonexistent/tkctl.sock", "pid"}, 7, "unix:///nonexistent/tkctl.sock no such file\n", ""},
		{[]string{"-s", "foo://bar", "pid"}, 1, "error: <class 'ValueError'>, Unknown protocol for serverurl foo://bar\n", ""},
	}
	for _, tc := range tests {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), tc.args, Env{Argv0: "prog", Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
		if code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) || errOut.String() != tc.wantErr {
			t.Errorf("%v: exit %d out %q err %q; want %d, %q, %q", tc.args, code, out.String(), errOut.String(), tc.wantCode, tc.wantOut, tc.wantErr)
		}
	}
}

// TestMainServerOrder: the server is -s, else the serverurl of the -c
// config, else $TEROK_RUN_DIR/supervisor.sock (configs found by the search
// are not read then), else the serverurl of the first config found, else
// the default run directory's socket.
func TestMainServerOrder(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.conf")
	found := filepath.Join(dir, "found.conf")
	if err := os.WriteFile(found, []byte("[supervisorctl]\nserverurl=unix://%(here)s/fromconf.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.conf") // as Debian's would be for us: no [supervisorctl]
	if err := os.WriteFile(broken, []byte("[unix_http_server]\nfile=/var/run/supervisor.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEROK_RUN_DIR", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "xdg"))
	run := "TEROK_RUN_DIR=" + filepath.Join(dir, "run")
	tests := []struct {
		name    string
		args    []string
		environ []string
		search  []string
		want    string // the socket the client tried
	}{
		{"flag wins over everything", []string{"-s", "unix://" + dir + "/flag.sock", "-c", found}, []string{run}, []string{found}, "flag.sock"},
		{"-c wins over TEROK_RUN_DIR", []string{"-c", found}, []string{run}, []string{missing}, "fromconf.sock"},
		{"TEROK_RUN_DIR wins over the search", nil, []string{run}, []string{broken, found}, "run/supervisor.sock"},
		{"search without TEROK_RUN_DIR", nil, []string{}, []string{missing, found}, "fromconf.sock"},
		{"nothing found: default run dir", nil, []string{}, []string{missing}, "xdg/terok/supervisor.sock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			env := Env{Argv0: "supervisorctl", Environ: tc.environ, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, search: tc.search}
			code := Main(context.Background(), append(tc.args, "pid"), env)
			want := "unix://" + filepath.Join(dir, tc.want) + " no such file\n"
			if code != 7 || out.String() != want {
				t.Fatalf("exit %d, %q; want 7, %q", code, out.String(), want)
			}
		})
	}
	// Without TEROK_RUN_DIR a config without [supervisorctl] found by the
	// search is an error, as with Python's client.
	var out bytes.Buffer
	code := Main(context.Background(), []string{"pid"}, Env{Argv0: "supervisorctl", Environ: []string{}, Stdin: strings.NewReader(""),
		Stdout: &out, Stderr: &out, search: []string{broken}})
	if code != 2 || !strings.Contains(out.String(), "does not include supervisorctl section") {
		t.Fatalf("exit %d, %q; want 2 and the missing section", code, out.String())
	}
}

// TestInteractiveInterrupt: Ctrl-C at the prompt leaves the shell even
// though input has not ended.
func TestInteractiveInterrupt(t *testing.T) {
	f := &fakeServer{answers: map[string]any{"supervisor.getAllProcessInfo": []any{}}}
	pr, pw := io.Pipe()
	defer pw.Close()
	sigs := make(chan os.Signal, 1)
	var out testkit.SyncBuffer
	c := NewController(context.Background(), "unix:///x", nil, nil,
		func(string) (Caller, error) { return f, nil }, pr, &out, &out)
	c.Signals = sigs
	done := make(chan struct{})
	go func() { c.Loop(); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "supervisor> ") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sigs <- os.Interrupt
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the shell did not end within 5s of an interrupt")
	}
	if out.String() != "supervisor> \n" {
		t.Fatalf("output %q", out.String())
	}
}
