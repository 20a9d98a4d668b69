package podconf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestApply(t *testing.T) {
	want := Want{CgroupManager: "cgroupfs", EventsLogger: "file", Runtime: "runc", HooksDir: "/etc/terok/hooks.d", StorageDriver: "overlay"}
	fuse := want
	fuse.MountProgram = "/usr/bin/fuse-overlayfs"
	tests := []struct {
		name       string
		containers string // testdata input ("" for no file)
		storage    string
		w          Want
		goldenCC   string // expected containers.conf ("" to skip)
		goldenSC   string
		err        error
		kept       []string
	}{
		{name: "fresh user", w: want, goldenCC: "empty.containers.conf.golden"},
		{name: "user settings kept", containers: "user-engine.containers.conf", w: want, goldenCC: "user-engine.containers.conf.golden", kept: []string{"engine.runtime"}},
		{name: "hooks_dir without ours fails", containers: "hooks-other.containers.conf", w: want, err: ErrHooksDirOverridden},
		{name: "hooks_dir with ours kept", containers: "hooks-ours.containers.conf", w: want, kept: []string{"engine.hooks_dir"}},
		{name: "bad TOML refused", containers: "bad.containers.conf", w: want, err: ErrBadTOML},
		{name: "fuse-overlayfs", w: fuse, goldenSC: "fuse.storage.conf.golden"},
		{name: "user's vfs kept", storage: "vfs.storage.conf", w: want, goldenSC: "vfs.storage.conf", kept: []string{"storage.driver"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := Paths{ContainersConf: filepath.Join(dir, "c", "containers.conf"), StorageConf: filepath.Join(dir, "c", "storage.conf")}
			os.MkdirAll(filepath.Dir(p.ContainersConf), 0o755)
			copyIn := func(src, dst string) []byte {
				if src == "" {
					return nil
				}
				b, err := os.ReadFile(filepath.Join("testdata", src))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(dst, b, 0o640)
				return b
			}
			origCC := copyIn(tc.containers, p.ContainersConf)
			changes, err := Apply(p, tc.w, false)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if b, _ := os.ReadFile(p.ContainersConf); string(b) != string(origCC) {
					t.Fatal("a refused file was changed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_ = copyIn(tc.storage, p.StorageConf)
			if tc.storage != "" {
				if changes, err = Apply(p, tc.w, false); err != nil {
					t.Fatal(err)
				}
			}
			golden := func(path, g string) {
				if g == "" {
					return
				}
				got, _ := os.ReadFile(path)
				want, _ := os.ReadFile(filepath.Join("testdata", g))
				if string(got) != string(want) {
					t.Fatalf("%s:\n%s\nwant:\n%s", filepath.Base(path), got, want)
				}
			}
			golden(p.ContainersConf, tc.goldenCC)
			golden(p.StorageConf, tc.goldenSC)
			for _, k := range tc.kept {
				found := false
				for _, c := range changes {
					found = found || (c.Key == k && c.Kept)
				}
				if !found {
					t.Fatalf("%s not reported as kept: %+v", k, changes)
				}
			}
			if tc.containers != "" {
				if fi, _ := os.Stat(p.ContainersConf); fi.Mode().Perm() != 0o640 {
					t.Fatalf("mode not kept: %v", fi.Mode())
				}
			}
			// A second run changes nothing.
			before, _ := os.ReadFile(p.ContainersConf)
			if _, err := Apply(p, tc.w, false); err != nil {
				t.Fatal(err)
			}
			if after, _ := os.ReadFile(p.ContainersConf); string(after) != string(before) {
				t.Fatalf("second run changed the file:\n%s", after)
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	p := UserPaths(dir, "")
	ch, err := Apply(p, Want{CgroupManager: "cgroupfs", EventsLogger: "file", Runtime: "runc", StorageDriver: "vfs"}, true)
	if err != nil || len(ch) != 5 {
		t.Fatalf("%+v %v", ch, err)
	}
	if _, err := os.Stat(p.ContainersConf); !os.IsNotExist(err) {
		t.Fatal("dry run wrote containers.conf")
	}
}

func TestExisting(t *testing.T) {
	home := t.TempDir()
	p := UserPaths(home, "")
	gr, d, err := Existing(p, home, "")
	if err != nil || d != "" || gr != filepath.Join(home, ".local/share/containers/storage") {
		t.Fatalf("%s %s %v", gr, d, err)
	}
	os.MkdirAll(filepath.Join(gr, "vfs-images"), 0o755)
	if _, d, _ := Existing(p, home, ""); d != "vfs" {
		t.Fatalf("storage in use not detected: %q", d)
	}
	os.MkdirAll(filepath.Dir(p.StorageConf), 0o755)
	os.WriteFile(p.StorageConf, []byte("[storage]\ndriver = \"overlay\"\ngraphroot = \"$HOME/st\"\n"), 0o644)
	if gr, d, _ := Existing(p, home, ""); d != "overlay" || gr != filepath.Join(home, "st") {
		t.Fatalf("configured driver/graphroot: %s %s", gr, d)
	}
}
