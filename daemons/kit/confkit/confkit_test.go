package confkit_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/confkit"
)

type sample struct {
	Name  string           `json:"name"`
	Every confkit.Duration `json:"every"`
}

func TestLoadJSON(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := sample{Name: "kept"}
	if err := confkit.LoadJSON(write("ok.json", `{"every": "90s"}`), &s); err != nil || s.Name != "kept" || s.Every.D() != 90*time.Second {
		t.Fatalf("%+v %v", s, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"typo.json", `{"evrey": "5m"}`, `unknown field "evrey"`},
		{"number.json", `{"every": 300}`, `a duration is a string like "5m"`},
		{"unit.json", `{"every": "5 minutes"}`, `write it like "5m"`},
		{"two.json", `{"name": "a"} {"name": "b"}`, "more than one JSON document"},
	} {
		p := write(tc.name, tc.body)
		err := confkit.LoadJSON(p, &sample{})
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error naming the file and %q", tc.name, err, tc.want)
		}
	}
	if err := confkit.LoadJSON(filepath.Join(dir, "missing.json"), &sample{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if b, err := confkit.Duration(5 * time.Minute).MarshalJSON(); err != nil || string(b) != `"5m0s"` {
		t.Errorf("marshal: %s %v", b, err)
	}
}

func TestBindToListen(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0":         "0.0.0.0:9418",
		"127.0.0.1:19418": "127.0.0.1:19418",
		"::1":             "[::1]:9418",
		"[::1]":           "[::1]:9418",
		"[::1]:7":         "[::1]:7",
		"gate.example":    "gate.example:9418",
	} {
		if got := confkit.BindToListen(in, "9418"); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
