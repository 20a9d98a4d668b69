package ccconf

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLoad reads a containers.conf through containers/common, as Podman
// would with CONTAINERS_CONF pointing at it.
func TestLoad(t *testing.T) {
	f := filepath.Join(t.TempDir(), "containers.conf")
	os.WriteFile(f, []byte("[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nhooks_dir = [\"/etc/tkpodman/hooks.d\"]\n"), 0o644)
	t.Setenv("CONTAINERS_CONF", f)
	eff, err := Containers{}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if eff.Runtime != "runc" || eff.CgroupManager != "cgroupfs" || eff.EventsLogger != "file" ||
		!slices.Equal(eff.HooksDirs, []string{"/etc/tkpodman/hooks.d"}) || len(eff.DefaultUlimits) != 0 {
		t.Fatalf("%+v", eff)
	}
	os.WriteFile(f, []byte("[engine\n"), 0o644)
	if _, err := (Containers{}).Load(); err == nil {
		t.Fatal("broken containers.conf accepted")
	}
}
