package entrypoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
)

func TestParseOverrides(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []Override
	}{
		{"none", []string{"PATH=/bin", "TEROK_RUN_DIR=/run/terok"}, nil},
		{"dash written as underscore", []string{"TEROK_SUPERVISOR__TEROK_SHIELD__AUTOSTART=false"},
			[]Override{{"TEROK_SUPERVISOR__TEROK_SHIELD__AUTOSTART", "terok-shield", "autostart", "false"}}},
		{"lower case accepted", []string{"TEROK_SUPERVISOR__terok_gate__stopwaitsecs=5"},
			[]Override{{"TEROK_SUPERVISOR__terok_gate__stopwaitsecs", "terok-gate", "stopwaitsecs", "5"}}},
		{"key with underscores, value with = and spaces", []string{"TEROK_SUPERVISOR__TEROK_GATE__ENVIRONMENT=TEROK_LOG_LEVEL=debug,A=\"b c\""},
			[]Override{{"TEROK_SUPERVISOR__TEROK_GATE__ENVIRONMENT", "terok-gate", "environment", "TEROK_LOG_LEVEL=debug,A=\"b c\""}}},
		{"empty value kept", []string{"TEROK_SUPERVISOR__TEROK_WEB__ENVIRONMENT="},
			[]Override{{"TEROK_SUPERVISOR__TEROK_WEB__ENVIRONMENT", "terok-web", "environment", ""}}},
		{"sorted by program then key", []string{
			"TEROK_SUPERVISOR__TEROK_WEB__PRIORITY=50",
			"TEROK_SUPERVISOR__HELLO__USER=podman",
			"TEROK_SUPERVISOR__HELLO__COMMAND=/bin/sleep 100",
		}, []Override{
			{"TEROK_SUPERVISOR__HELLO__COMMAND", "hello", "command", "/bin/sleep 100"},
			{"TEROK_SUPERVISOR__HELLO__USER", "hello", "user", "podman"},
			{"TEROK_SUPERVISOR__TEROK_WEB__PRIORITY", "terok-web", "priority", "50"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOverrides(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("[%d] got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseOverridesRefuses(t *testing.T) {
	tests := []struct {
		env, why string
	}{
		{"TEROK_SUPERVISOR_TEROK_GATE__AUTOSTART=false", "two underscores"},
		{"TEROK_SUPERVISOR__TEROK_GATE=false", "separated by two underscores"},
		{"TEROK_SUPERVISOR__TEROK_GATE__AUTOSTART__X=1", "separated by two underscores"},
		{"TEROK_SUPERVISOR____AUTOSTART=false", "separated by two underscores"},
		{"TEROK_SUPERVISOR__TEROK_GATE__=false", "separated by two underscores"},
		{"TEROK_SUPERVISOR__TEROK_GATE__AUTOSTRAT=false", `"AUTOSTRAT" is not a program key`},
		{"TEROK_SUPERVISOR__TEROK-GATE__AUTOSTART=false", "may hold only letters"},
		{"TEROK_SUPERVISOR___GATE__AUTOSTART=false", "may hold only letters"},
		{"TEROK_SUPERVISOR__GATE___AUTOSTART=false", "is not a program key"},
		{"TEROK_SUPERVISOR__TEROK_GATE__COMMAND=a\nb", "line break"},
		{"TEROK_SUPERVISOR__TEROK_GATE__COMMAND=serve ;oops", "starts a comment"},
		{"TEROK_SUPERVISOR__TEROK_GATE__COMMAND=serve #oops", "starts a comment"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, err := ParseOverrides([]string{"PATH=/bin", tt.env})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("want ErrMalformed, got %v", err)
			}
			name, _, _ := strings.Cut(tt.env, "=")
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("error %q should name %s and say %q", err, name, tt.why)
			}
		})
	}
	t.Run("same key twice", func(t *testing.T) {
		_, err := ParseOverrides([]string{"TEROK_SUPERVISOR__TEROK_GATE__AUTOSTART=false", "TEROK_SUPERVISOR__terok_gate__autostart=true"})
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "TEROK_SUPERVISOR__terok_gate__autostart") {
			t.Fatalf("want both named, got %v", err)
		}
	})
}

// TestRenderedOverridesWin loads the generated file with the supervisor's
// own config loader, included after a base file: the overrides replace the
// base values key by key and add a program.
func TestRenderedOverridesWin(t *testing.T) {
	dir := t.TempDir()
	ovs, err := ParseOverrides([]string{
		"TEROK_SUPERVISOR__TEROK_SHIELD__AUTOSTART=false",
		"TEROK_SUPERVISOR__TEROK_GATE__COMMAND=/bin/sleep 300",
		"TEROK_SUPERVISOR__HELLO__COMMAND=/bin/sleep 100",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "env.conf"), RenderOverrides(ovs), 0o644, -1, -1); err != nil {
		t.Fatal(err)
	}
	main := `[program:terok-shield]
command = /bin/sleep 1
priority = 10
[program:terok-gate]
command = /bin/sleep 2
priority = 30
[include]
files = env.conf
`
	os.WriteFile(filepath.Join(dir, "main.conf"), []byte(main), 0o644)
	cfg, err := config.Load(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatalf("generated file does not load: %v\n%s", err, RenderOverrides(ovs))
	}
	progs := map[string]*config.Process{}
	for _, g := range cfg.Groups {
		for _, p := range g.Processes {
			progs[p.Name] = p
		}
	}
	if p := progs["terok-shield"]; p.Autostart || p.Priority != 10 {
		t.Errorf("terok-shield: autostart %v priority %d, want false 10", p.Autostart, p.Priority)
	}
	if p := progs["terok-gate"]; p.Command != "/bin/sleep 300" || p.Priority != 30 {
		t.Errorf("terok-gate: command %q priority %d", p.Command, p.Priority)
	}
	if _, ok := progs["hello"]; !ok {
		t.Errorf("program hello was not added: %v", progs)
	}
}
