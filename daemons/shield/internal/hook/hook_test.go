package hook

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

func state(t *testing.T, name string) *os.File {
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRequest(t *testing.T) {
	st, err := ReadState(state(t, "state-armed.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, on, err := Request(st)
	if err != nil || !on {
		t.Fatalf("%v %v", on, err)
	}
	if req.ID != "c0ffee1234" || req.PID != 4242 || req.Project != "demo" ||
		!slices.Equal(req.Profiles, []string{"base", "dev-standard"}) ||
		!slices.Equal(req.Allow, []string{"203.0.113.7", "example.org"}) || !slices.Equal(req.Ports, []uint16{7860}) ||
		!slices.Equal(req.Deny, []string{"api.example-provider.test", "198.51.100.9"}) {
		t.Fatalf("request %+v", req)
	}
	st, _ = ReadState(state(t, "state-plain.json"))
	if _, on, err := Request(st); on || err != nil {
		t.Fatalf("plain container: %v %v", on, err)
	}
	// No shield for the project: the minimal ruleset, and nothing else of
	// the annotations applies but the deny list.
	st, _ = ReadState(state(t, "state-open.json"))
	req, on, err = Request(st)
	if err != nil || !on || req.ID != "c0ffee5678" || req.PID != 4243 || req.Project != "loose" || req.Mode != shieldapi.ModeOpen ||
		len(req.Profiles)+len(req.Allow)+len(req.Ports) != 0 || !slices.Equal(req.Deny, []string{"api.example-provider.test", "*.provider.test"}) {
		t.Fatalf("open: %+v %v %v", req, on, err)
	}
	// A shielded container cannot ask for open through its mode.
	st, _ = ReadState(state(t, "state-modeopen.json"))
	if _, _, err := Request(st); !errors.Is(err, ErrBadAnnotation) || !strings.Contains(err.Error(), "terok.shield=open") {
		t.Fatalf("terok.shield.mode=open: %v", err)
	}
	st, _ = ReadState(state(t, "state-badport.json"))
	if _, _, err := Request(st); !errors.Is(err, ErrBadAnnotation) {
		t.Fatalf("bad port: %v", err)
	}
	if _, err := ReadState(state(t, "state-truncated.json")); !errors.Is(err, ErrBadState) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestRunFailsClosed(t *testing.T) {
	// No daemon at this socket: arming must fail.
	c := shieldapi.New(filepath.Join(t.TempDir(), "absent.sock"))
	if err := Run(context.Background(), StageCreateRuntime, state(t, "state-armed.json"), c); err == nil {
		t.Fatal("hook succeeded with no daemon")
	}
	// So must arming a task without the shield: its minimal ruleset is not
	// optional either.
	if err := Run(context.Background(), StageCreateRuntime, state(t, "state-open.json"), c); err == nil {
		t.Fatal("hook succeeded for terok.shield=open with no daemon")
	}
	if err := Run(context.Background(), "prestart", state(t, "state-armed.json"), c); !errors.Is(err, ErrBadStage) {
		t.Fatalf("bad stage: %v", err)
	}
	// A container without the annotation needs nothing from the daemon.
	if err := Run(context.Background(), StageCreateRuntime, state(t, "state-plain.json"), c); err != nil {
		t.Fatalf("plain: %v", err)
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	bin, _ := os.Executable()
	files, err := Install(dir, bin, "/run/terok/shield.sock")
	if err != nil || len(files) != 2 {
		t.Fatalf("%v %v", files, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "terok-shield-createRuntime.json"))
	var h struct {
		Version string
		Hook    struct {
			Path string
			Args []string
		}
		When   struct{ Annotations map[string]string }
		Stages []string
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.Version != "1.0.0" || h.Hook.Path != bin || h.When.Annotations[`^terok\.shield$`] != "^(on|open)$" ||
		!slices.Equal(h.Stages, []string{"createRuntime"}) || !slices.Equal(h.Hook.Args, []string{"terok-shield", "hook", "--socket", "/run/terok/shield.sock", "createRuntime"}) {
		t.Fatalf("hook json: %s", b)
	}
	if _, err := Install(dir, "relative/bin", "/s"); err == nil {
		t.Fatal("relative binary accepted")
	}
}
