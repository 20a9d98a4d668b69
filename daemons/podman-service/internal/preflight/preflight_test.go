package preflight

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSubID(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, status, detail string
	}{
		{"by name", "other:1:65536\nalice:100000:65536\n", OK, "65536 ids"},
		{"by uid", "1234:100000:70000\n", OK, "70000 ids"},
		{"missing", "other:100000:65536\n", Fail, "no subuid range for alice"},
		{"small", "alice:100000:1000\n", Warn, "only 1000 ids"},
		{"garbage lines", "alice\n#alice:1:2\nalice:x:y\n", Fail, "no subuid range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			os.WriteFile(f, []byte(tc.content), 0o644)
			c := checkSubID(Env{UID: 1234, User: "alice"}, f, "subuid", "--add-subuids")
			if c.Status != tc.status || !strings.Contains(c.Detail, tc.detail) {
				t.Fatalf("%+v", c)
			}
			if c.Status != OK && !strings.Contains(c.Fix, "usermod --add-subuids") {
				t.Fatalf("fix: %q", c.Fix)
			}
		})
	}
	if c := checkSubID(Env{UID: 1234, User: "alice"}, filepath.Join(dir, "none"), "subgid", "--add-subgids"); c.Status != Fail || !strings.Contains(c.Detail, "cannot read") {
		t.Fatalf("%+v", c)
	}
}

// TestSubIDFixNamesAFreeRange: the suggested range is one no other user
// has; as root the fix is to check as the service's user.
func TestSubIDFixNamesAFreeRange(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(f, []byte("podman:100000:65536\ntkshield:165536:65536\nother:300000:1000\n"), 0o644)
	c := checkSubID(Env{UID: 1234, User: "alice"}, f, "subuid", "--add-subuids")
	if c.Status != Fail || !strings.Contains(c.Fix, "usermod --add-subuids 231072-296607 alice") || !strings.Contains(c.Fix, "alice:231072:65536") {
		t.Fatalf("fix %q, want the free range 231072-296607", c.Fix)
	}
	root := checkSubID(Env{UID: 0, User: "root"}, f, "subuid", "--add-subuids")
	if strings.Contains(root.Fix, "usermod") || !strings.Contains(root.Fix, "as the service's user") {
		t.Fatalf("root fix %q", root.Fix)
	}
	for _, tc := range []struct {
		taken      [][2]int
		from, want int
	}{
		{nil, 100000, 100000},
		{[][2]int{{100000, 65536}}, 100000, 165536},
		{[][2]int{{165536, 10}, {100000, 65536}}, 100000, 165546}, // out of order
		{[][2]int{{150000, 10}}, 100000, 150010},                  // overlaps the tail
		{[][2]int{{300000, 10}}, 100000, 100000},                  // fits before
	} {
		if got := FreeRange(tc.taken, tc.from, 65536); got != tc.want {
			t.Errorf("FreeRange(%v) = %d, want %d", tc.taken, got, tc.want)
		}
	}
}

func TestDevice(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "tun")
	os.WriteFile(plain, nil, 0o666)
	if c := checkDevice(filepath.Join(dir, "none"), "tun", Fail, "why"); c.Status != Fail || !strings.Contains(c.Detail, "missing") {
		t.Fatalf("%+v", c)
	}
	if c := checkDevice(plain, "tun", Fail, "why"); c.Status != Fail || !strings.Contains(c.Detail, "not a character device") {
		t.Fatalf("%+v", c)
	}
	if c := checkDevice("/dev/null", "null", Fail, "why"); c.Status != OK {
		t.Fatalf("%+v", c)
	}
	if c := checkDevice(plain, "fuse", Warn, "why"); c.Status != Warn {
		t.Fatalf("fuse problems only warn: %+v", c)
	}
}

func TestRuntimeDir(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	if c := checkRuntimeDir(Env{UID: os.Getuid(), XDGRuntimeDir: dir}); c.Status != OK {
		t.Fatalf("%+v", c)
	}
	if c := checkRuntimeDir(Env{UID: os.Getuid() + 1, XDGRuntimeDir: dir}); c.Status != Fail || !strings.Contains(c.Detail, "not owned") {
		t.Fatalf("%+v", c)
	}
	if c := checkRuntimeDir(Env{UID: os.Getuid()}); c.Status != Fail || !strings.Contains(c.Detail, "not set") {
		t.Fatalf("%+v", c)
	}
}

func TestRuntimeAndNetworkChoice(t *testing.T) {
	have := map[string]bool{"runc": true, "crun": true, "slirp4netns": true}
	look := func(n string) (string, error) {
		if have[n] {
			return "/usr/bin/" + n, nil
		}
		return "", errors.New("not found")
	}
	e := Env{CgroupRoot: t.TempDir(), LookPath: look, Version: func(string) (string, error) { return "v1", nil }}
	var d Decision
	if c := checkRuntime(e, &d); c.Status != OK || d.Runtime != "runc" {
		t.Fatalf("hybrid cgroups want runc: %+v %+v", c, d)
	}
	have["runc"] = false
	if c := checkRuntime(e, &d); c.Status != OK || d.Runtime != "crun" {
		t.Fatalf("fallback to crun: %+v %+v", c, d)
	}
	have["crun"] = false
	if c := checkRuntime(e, &d); c.Status != Fail {
		t.Fatalf("no runtime: %+v", c)
	}
	d.PodmanVersion = "5.4.2"
	if c := checkNetwork(e, &d); c.Status != Warn || d.NetworkHelper != "slirp4netns" || !strings.Contains(c.Fix, "passt") {
		t.Fatalf("podman 5 without pasta: %+v", c)
	}
	d.PodmanVersion = "4.3.1"
	if c := checkNetwork(e, &d); c.Status != OK || d.NetworkHelper != "slirp4netns" {
		t.Fatalf("podman 4: %+v", c)
	}
}

func TestStorageChoice(t *testing.T) {
	look := func(n string) (string, error) { return "/usr/bin/" + n, nil }
	fail := func(string) error { return errors.New("EPERM") }
	var d Decision
	if c := checkStorage(Env{ExistingDrive: "vfs", LookPath: look}, &d, true); d.StorageDriver != "vfs" || c.Status != OK {
		t.Fatalf("existing kept: %+v", c)
	}
	d = Decision{}
	checkStorage(Env{GraphRoot: t.TempDir(), LookPath: look, ProbeOverlay: func(string) error { return nil }}, &d, true)
	if d.StorageDriver != "overlay" || d.MountProgram != "" {
		t.Fatalf("native: %+v", d)
	}
	d = Decision{}
	checkStorage(Env{GraphRoot: t.TempDir(), LookPath: look, ProbeOverlay: fail}, &d, true)
	if d.StorageDriver != "overlay" || d.MountProgram != "/usr/bin/fuse-overlayfs" {
		t.Fatalf("fuse: %+v", d)
	}
	d = Decision{}
	if c := checkStorage(Env{GraphRoot: t.TempDir(), LookPath: look, ProbeOverlay: fail}, &d, false); d.StorageDriver != "vfs" || c.Status != Warn {
		t.Fatalf("vfs: %+v %+v", c, d)
	}
}
