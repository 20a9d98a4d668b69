package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestHostileConfigWritableByProgramUser: a root supervisor refuses a
// configuration that a user it runs programs as could change — the way
// the user podman of the image became root by replacing an included file
// and asking for an update. Each case plants one such opening; the clean
// tree beside them loads.
func TestHostileConfigWritableByProgramUser(t *testing.T) {
	testkit.RequireRoot(t)
	const nobody = 65534
	main := `[program:unpriv]
command = /bin/sleep 1000
user = nobody

[include]
files = conf.d/*.conf
`
	setup := func(t *testing.T) (dir, inc string) {
		dir = t.TempDir()
		os.Chmod(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "main.conf"), []byte(main), 0o644)
		os.Mkdir(filepath.Join(dir, "conf.d"), 0o755)
		inc = filepath.Join(dir, "conf.d", "50-x.conf")
		os.WriteFile(inc, []byte("[program:root]\ncommand = /bin/sleep 1000\n"), 0o644)
		return dir, inc
	}
	load := func(dir string) error {
		_, err := Load(filepath.Join(dir, "main.conf"))
		return err
	}

	t.Run("root-owned tree loads", func(t *testing.T) {
		dir, _ := setup(t)
		if err := load(dir); err != nil {
			t.Fatal(err)
		}
	})
	cases := []struct {
		name  string
		plant func(t *testing.T, dir, inc string)
		want  []string // in the message; DIR and INC stand for the paths
	}{
		{"included file owned by the program user", func(t *testing.T, dir, inc string) {
			os.Chown(inc, nobody, nobody)
		}, []string{"INC", "the user nobody (user= of [program:unpriv])", "chown root:root"}},
		{"included file writable by the program user's group", func(t *testing.T, dir, inc string) {
			os.Chown(inc, 0, nobody)
			os.Chmod(inc, 0o664)
		}, []string{"INC", "writable by the group nogroup"}},
		{"included file writable by everyone", func(t *testing.T, dir, inc string) {
			os.Chmod(inc, 0o666)
		}, []string{"INC", "writable by everyone"}},
		{"directory of the included file owned by the program user", func(t *testing.T, dir, inc string) {
			os.Chown(filepath.Join(dir, "conf.d"), nobody, nobody)
		}, []string{"DIR/conf.d belongs to the user nobody"}},
		{"directory of the included file writable by the group", func(t *testing.T, dir, inc string) {
			os.Chown(filepath.Join(dir, "conf.d"), 0, nobody)
			os.Chmod(filepath.Join(dir, "conf.d"), 0o775)
		}, []string{"the directory DIR/conf.d is writable by the group nogroup"}},
		{"included file is a symlink into the program user's directory", func(t *testing.T, dir, inc string) {
			own := filepath.Join(dir, "nobodys")
			os.Mkdir(own, 0o755)
			os.Chown(own, nobody, nobody)
			os.WriteFile(filepath.Join(own, "x.conf"), []byte("[program:root]\ncommand = /bin/sleep 1000\n"), 0o644)
			os.Remove(inc)
			os.Symlink(filepath.Join(own, "x.conf"), inc)
		}, []string{"nobodys belongs to the user nobody"}},
		{"executable of a root program owned by the program user", func(t *testing.T, dir, inc string) {
			exe := filepath.Join(dir, "tool")
			os.WriteFile(exe, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755)
			os.Chown(exe, nobody, nobody)
			os.WriteFile(inc, []byte("[program:root]\ncommand = "+exe+" --flag\n"), 0o644)
		}, []string{"executable of [program:root], which runs as root,", "tool: it belongs to the user nobody"}},
		{"socket group may write the included file", func(t *testing.T, dir, inc string) {
			os.WriteFile(filepath.Join(dir, "main.conf"), []byte(`[unix_http_server]
file = /nonexistent/s.sock
chown = root:nogroup

[include]
files = conf.d/*.conf
`), 0o644)
			os.Chown(inc, 0, nobody)
			os.Chmod(inc, 0o664)
		}, []string{"the group nogroup of the control socket ([unix_http_server] chown=root:nogroup)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, inc := setup(t)
			tc.plant(t, dir, inc)
			err := load(dir)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("loaded (err %v); want a refusal", err)
			}
			for _, w := range tc.want {
				w = strings.NewReplacer("INC", inc, "DIR", dir).Replace(w)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the refusal lacks %q:\n%v", w, err)
				}
			}
		})
	}
	t.Run("the program user's own executable is fine", func(t *testing.T) {
		dir, inc := setup(t)
		exe := filepath.Join(dir, "tool")
		os.WriteFile(exe, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755)
		os.Chown(exe, nobody, nobody)
		os.WriteFile(inc, []byte("[program:mine]\ncommand = "+exe+"\nuser = nobody\n"), 0o644)
		if err := load(dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("without user= there is no one to distrust", func(t *testing.T) {
		dir, inc := setup(t)
		os.WriteFile(filepath.Join(dir, "main.conf"), []byte("[include]\nfiles = conf.d/*.conf\n"), 0o644)
		os.Chmod(inc, 0o666)
		if err := load(dir); err != nil {
			t.Fatal(err)
		}
	})
}
