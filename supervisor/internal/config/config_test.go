package config

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

func TestIncludeOverridesKeyByKey(t *testing.T) {
	c, err := Load("testdata/merge/main.conf")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Group("web").Processes[0]
	abs, _ := filepath.Abs("testdata/merge/conf.d")
	want := map[string]any{
		"command":   "/bin/web --port 3", // 90-last.conf wins over 50-mine.conf and main
		"autostart": false,               // from 10-first.conf, untouched later
		"env":       []string{"A=1", "B=2"},
		"directory": abs, // %(here)s of the file that set the key
	}
	got := map[string]any{"command": p.Command, "autostart": p.Autostart, "env": p.Environment, "directory": p.Directory}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged program = %v, want %v", got, want)
	}
	if len(c.Included) != 4 || !strings.HasSuffix(c.Included[1], "10-first.conf") || !strings.HasSuffix(c.Included[3], "90-last.conf") {
		t.Fatalf("included files not in sorted order: %v", c.Included)
	}
}

func TestExpansion(t *testing.T) {
	t.Setenv("TKSUP_TEST_VAR", "envval")
	c, err := Load("testdata/expand.conf")
	if err != nil {
		t.Fatal(err)
	}
	here, _ := filepath.Abs("testdata")
	if c.Supervisord.Logfile != here+"/supervisord.log" {
		t.Errorf("logfile = %q", c.Supervisord.Logfile)
	}
	if c.Groups[0].Name != "web" || c.Groups[1].Name != "pool" {
		t.Fatalf("groups by priority = %s, %s; want web (priority 1) before pool (7)", c.Groups[0].Name, c.Groups[1].Name)
	}
	pool := c.Group("pool")
	if len(pool.Processes) != 3 {
		t.Fatalf("numprocs=3 gave %d processes", len(pool.Processes))
	}
	w := pool.Processes[1]
	if w.Name != "worker_02" || w.Command != "/bin/echo worker 2 envval 100%" || w.Group != "pool" {
		t.Errorf("worker 2 = %q %q %q", w.Name, w.Command, w.Group)
	}
	if w.StdoutLogfile != here+"/worker_02.log" || w.Directory != here {
		t.Errorf("worker paths = %q %q", w.StdoutLogfile, w.Directory)
	}
	if !reflect.DeepEqual(w.Environment, []string{"NUM=2", "QUOTED=a, b"}) {
		t.Errorf("environment = %q", w.Environment)
	}
	web := c.Group("web").Processes[0]
	if web.Autorestart != "true" || !reflect.DeepEqual(web.Exitcodes, []int{0, 3}) || web.Stopsignal.String() != "interrupt" ||
		web.StdoutPrefix || !web.RedirectStderr || web.StdoutLogfile != "AUTO" || web.Startsecs != 1 || web.Startretries != 3 {
		t.Errorf("web = %+v", web)
	}
}

func TestBadInput(t *testing.T) {
	cases := map[string]string{
		"missing-command.conf":    "has no command=",
		"unknown-user.conf":       "tksup-no-such-user",
		"duplicate-group.conf":    "is in both [group:one] and [group:two]",
		"unreadable-include.conf": "sub.conf",
		"bad-expansion.conf":      "ENV_TKSUP_SURELY_UNSET",
		"numprocs-no-num.conf":    "process_num",
		"bad-bool.conf":           "autostart",
		"bad-signal.conf":         "NOPE",
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata/bad", file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ".conf") {
				t.Fatalf("error %q does not name %q and the file", err, want)
			}
		})
	}
}

func TestUnknownKeyWarnsWithLine(t *testing.T) {
	c, err := Load("testdata/warn.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "warn.conf:3") || !strings.Contains(c.Warnings[0], "colour") {
		t.Fatalf("warnings = %q", c.Warnings)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"a": "x", "n": "7"}
	for in, want := range map[string]string{
		"%(a)s":      "x",
		"%(n)03d":    "007",
		"100%%":      "100%",
		"%(a)5s|":    "    x|",
		"plain text": "plain text",
	} {
		got, err := expand(in, vars)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"%(missing)s", "50%", "%(a)d"} {
		if _, err := expand(bad, vars); err == nil {
			t.Errorf("expand(%q) accepted", bad)
		}
	}
}

func TestSplitCommand(t *testing.T) {
	got, err := SplitCommand(`/bin/sh -c 'echo "a b"; x' "q\"uote" back\ slash`)
	want := []string{"/bin/sh", "-c", `echo "a b"; x`, `q"uote`, "back slash"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("SplitCommand = %q, %v", got, err)
	}
	if _, err := SplitCommand(`a 'b`); err == nil {
		t.Fatal("unclosed quote accepted")
	}
}

// TestSameAsPythonSupervisord parses the testdata with Debian's Python
// supervisor 4.2 and with us, and compares the programs.
func TestSameAsPythonSupervisord(t *testing.T) {
	py := "/usr/bin/python3"
	_, err := os.Stat("/usr/lib/python3/dist-packages/supervisor/options.py")
	testkit.Require(t, err == nil, "Debian's Python supervisor is not installed (apt-get install supervisor)")
	t.Setenv("TKSUP_TEST_VAR", "envval")
	script := `
import json, shlex, sys
from supervisor.options import ServerOptions
o = ServerOptions()
o.realize(['-c', sys.argv[1]])
out = {}
for g in o.process_group_configs:
    for p in g.process_configs:
        out[g.name + ':' + p.name] = dict(command=p.command, argv=shlex.split(p.command), autostart=p.autostart, priority=p.priority,
            directory=p.directory, env=sorted('%s=%s' % kv for kv in (p.environment or {}).items()),
            startsecs=p.startsecs, startretries=p.startretries, exitcodes=list(p.exitcodes),
            stopwaitsecs=p.stopwaitsecs, redirect_stderr=p.redirect_stderr)
print(json.dumps(out))
`
	for _, f := range []string{"testdata/merge/main.conf", "testdata/expand.conf", "testdata/syntax.conf"} {
		abs, _ := filepath.Abs(f)
		cmd := exec.Command(py, "-c", script, abs)
		cmd.Dir = t.TempDir()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python on %s: %v", f, err)
		}
		var want map[string]map[string]any
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		c, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]any{}
		for _, g := range c.Groups {
			for _, p := range g.Processes {
				// Python folds [supervisord] environment into each program's.
				env := append(append([]string{}, c.Supervisord.Environment...), p.Environment...)
				sortStrings(env)
				codes := []any{}
				for _, c := range p.Exitcodes {
					codes = append(codes, float64(c))
				}
				envAny := []any{}
				for _, e := range env {
					envAny = append(envAny, e)
				}
				var dir any
				if p.Directory != "" {
					dir = p.Directory
				}
				argv, _ := SplitCommand(p.Command)
				argvAny := []any{}
				for _, a := range argv {
					argvAny = append(argvAny, a)
				}
				got[g.Name+":"+p.Name] = map[string]any{"command": p.Command, "argv": argvAny, "autostart": p.Autostart,
					"priority": float64(p.Priority), "directory": dir, "env": envAny, "startsecs": float64(p.Startsecs),
					"startretries": float64(p.Startretries), "exitcodes": codes, "stopwaitsecs": float64(p.Stopwaitsecs),
					"redirect_stderr": p.RedirectStderr}
			}
		}
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.MarshalIndent(got, "", " ")
			wj, _ := json.MarshalIndent(want, "", " ")
			t.Fatalf("%s differs from Python supervisord.\nours:\n%s\npython:\n%s", f, gj, wj)
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestErrorNamesWhereTheValueCameFrom: a bad user= set by an override file
// in a section another file opened is reported at the override's line,
// not at the section header of the first file.
func TestErrorNamesWhereTheValueCameFrom(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", "[supervisord]\n\n[include]\nfiles = conf.d/*.conf\n")
	write("conf.d/40-web.conf", "[program:web]\ncommand = /bin/true\n")
	write("conf.d/95-bad.conf", "# an override\n\n[program:web]\nuser = tksup-no-such-user\n")
	_, err := Load(filepath.Join(dir, "main.conf"))
	want := filepath.Join(dir, "conf.d/95-bad.conf") + ":4: [program:web] user=tksup-no-such-user"
	if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one naming %q", err, want)
	}
}
