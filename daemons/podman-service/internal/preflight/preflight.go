package preflight

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// Status of one check.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "fail"
)

// Check is one preflight result.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Decision holds the settings preflight chose for this machine.
type Decision struct {
	CgroupManager string `json:"cgroup_manager"`
	EventsLogger  string `json:"events_logger"`
	Runtime       string `json:"runtime"`
	StorageDriver string `json:"storage_driver"`
	MountProgram  string `json:"mount_program,omitempty"` // fuse-overlayfs when used
	NetworkHelper string `json:"network_helper"`
	PodmanVersion string `json:"podman_version"`
}

// Report is the outcome of Run.
type Report struct {
	Checks   []Check  `json:"checks"`
	Decision Decision `json:"decision"`
}

// Blocked returns the failed userns check when it is the only failure:
// the machine is otherwise fine, but no container can run until the
// container is started with other docker run options. podman-service then
// stays up and says so in its health instead of exiting.
func (r Report) Blocked() (Check, bool) {
	var userns Check
	found := false
	for _, c := range r.Checks {
		if c.Status != Fail {
			continue
		}
		if c.Name != "userns" {
			return Check{}, false
		}
		userns, found = c, true
	}
	return userns, found
}

// Err returns ErrFailed naming the failed checks, or nil.
func (r Report) Err() error {
	var bad []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			bad = append(bad, c.Name+": "+c.Detail+" — fix: "+c.Fix)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", ErrFailed, strings.Join(bad, "\n  "))
}

// Env is everything preflight looks at. DefaultEnv fills it for the
// current process; tests replace paths and probes.
type Env struct {
	UID, GID      int
	User          string
	XDGRuntimeDir string
	GraphRoot     string // container storage of the user
	ExistingDrive string // storage driver already configured or in use, "" if none
	SubuidFile    string
	SubgidFile    string
	TunDevice     string
	FuseDevice    string
	CgroupRoot    string
	SystemdDir    string // exists when systemd is the init
	HooksDir      string
	LookPath      func(string) (string, error)
	// ProbeOverlay mounts a native overlay below dir in a user namespace
	// and returns nil when the kernel allows it on that filesystem.
	ProbeOverlay func(dir string) error
	// Version runs "<bin> --version" and returns its output.
	Version func(bin string) (string, error)
	// ProbeUserns creates a user namespace as this user and returns nil
	// when that works (ProbeUserns); nil: not probed.
	ProbeUserns func() error
	// InContainer is true inside a Docker or Podman container (the fix
	// for a refused user namespace is then a docker run option).
	InContainer bool
}

// DefaultEnv describes the current process and machine.
func DefaultEnv() Env {
	e := Env{
		UID: os.Getuid(), GID: os.Getgid(),
		XDGRuntimeDir: os.Getenv("XDG_RUNTIME_DIR"),
		SubuidFile:    "/etc/subuid", SubgidFile: "/etc/subgid",
		TunDevice: "/dev/net/tun", FuseDevice: "/dev/fuse",
		CgroupRoot: "/sys/fs/cgroup", SystemdDir: "/run/systemd/system",
		LookPath: exec.LookPath,
		// Docker creates /.dockerenv, Podman /run/.containerenv.
		InContainer: exists("/.dockerenv") || exists("/run/.containerenv"),
		Version: func(bin string) (string, error) {
			out, err := exec.Command(bin, "--version").CombinedOutput()
			return strings.TrimSpace(string(out)), err
		},
	}
	if u, err := user.LookupId(strconv.Itoa(e.UID)); err == nil {
		e.User = u.Username
	}
	return e
}

// Run performs every check and decides the settings.
func Run(e Env) Report {
	var r Report
	add := func(c Check) { r.Checks = append(r.Checks, c) }
	add(checkUser(e))
	add(CheckUserns(e))
	add(checkSubID(e, e.SubuidFile, "subuid", "--add-subuids"))
	add(checkSubID(e, e.SubgidFile, "subgid", "--add-subgids"))
	add(checkIDMap(e, "newuidmap"))
	add(checkIDMap(e, "newgidmap"))
	add(checkDevice(e.TunDevice, "tun", Fail, "slirp4netns and pasta need it for the container network"))
	fuse := checkDevice(e.FuseDevice, "fuse", Warn, "fuse-overlayfs needs it when native overlay is not possible")
	add(fuse)
	add(checkRuntimeDir(e))
	cg := checkCgroups(e, &r.Decision)
	add(cg)
	add(checkRuntime(e, &r.Decision))
	add(checkPodman(e, &r.Decision))
	add(checkNetwork(e, &r.Decision))
	add(checkStorage(e, &r.Decision, fuse.Status == OK))
	add(checkHooksDir(e))
	r.Decision.EventsLogger = "file"
	return r
}

func checkUser(e Env) Check {
	c := Check{Name: "user", Status: OK, Detail: fmt.Sprintf("uid %d (%s)", e.UID, e.User)}
	if e.UID == 0 {
		c.Status, c.Detail = Fail, "running as root; rootless Podman needs an unprivileged user"
		c.Fix = "run podman-service as the unprivileged user (uid 1000 `podman` in the image), e.g. runuser -u podman -- podman-service serve"
	}
	return c
}

// checkSubID looks for a range of at least 65536 ids for the user (by name
// or uid) in file. The fix names a range no line of file uses yet; for
// root, which rootless Podman does not run as, it says to check as the
// service's user instead.
func checkSubID(e Env, file, name, flag string) Check {
	c := Check{Name: name}
	b, err := os.ReadFile(file)
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("cannot read %s: %v", file, err), subIDFix(e, name, flag, nil)
		return c
	}
	best := 0
	var taken [][2]int // start, count of every range in the file
	for _, line := range strings.Split(string(b), "\n") {
		p := strings.Split(strings.TrimSpace(line), ":")
		if len(p) != 3 {
			continue
		}
		start, err1 := strconv.Atoi(p[1])
		n, err2 := strconv.Atoi(p[2])
		if err1 != nil || err2 != nil {
			continue
		}
		taken = append(taken, [2]int{start, n})
		if (p[0] == e.User || p[0] == strconv.Itoa(e.UID)) && n > best {
			best = n
		}
	}
	fix := subIDFix(e, name, flag, taken)
	switch {
	case best == 0:
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("no %s range for %s in %s", name, orUID(e), file), fix
	case best < 65536:
		c.Status, c.Detail, c.Fix = Warn, fmt.Sprintf("%s range of %s in %s has only %d ids; images with high uids will fail", name, orUID(e), file, best), fix
	default:
		c.Status, c.Detail = OK, fmt.Sprintf("%d ids for %s in %s", best, orUID(e), file)
	}
	return c
}

// subIDFix is the fix for a missing or short range: for root, to run the
// check as the service's user; else a usermod with the first free range
// of 65536 ids at or above 100000.
func subIDFix(e Env, name, flag string, taken [][2]int) string {
	if e.UID == 0 {
		return "rootless Podman does not run as root, so root needs no " + name +
			" range: run the check as the service's user (e.g. runuser -u podman -- podman-service check)"
	}
	start := FreeRange(taken, 100000, 65536)
	return fmt.Sprintf("as root: usermod %s %d-%d %s (a range no other user has) — /etc/%s then has a line %s:%d:65536",
		flag, start, start+65535, orUID(e), name, orUID(e), start)
}

// FreeRange returns the lowest start >= from such that [start,
// start+count) overlaps none of the taken (start, count) ranges.
func FreeRange(taken [][2]int, from, count int) int {
	start := from
	for moved := true; moved; {
		moved = false
		for _, r := range taken { // each pass moves past at least one range
			if start < r[0]+r[1] && r[0] < start+count {
				start, moved = r[0]+r[1], true
			}
		}
	}
	return start
}

func orUID(e Env) string {
	if e.User != "" {
		return e.User
	}
	return strconv.Itoa(e.UID)
}

func checkIDMap(e Env, bin string) Check {
	c := Check{Name: bin}
	fix := "as root: apt-get install uidmap (it installs " + bin + " setuid root)"
	p, err := e.LookPath(bin)
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, bin+" is not installed", fix
		return c
	}
	fi, err := os.Stat(p)
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, err.Error(), fix
		return c
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	setuid := fi.Mode()&os.ModeSetuid != 0 && st != nil && st.Uid == 0
	caps := hasFileCaps(p)
	if !setuid && !caps {
		c.Status, c.Detail = Fail, p+" is neither setuid root nor has file capabilities"
		c.Fix = "as root: chmod u+s " + p + " (or setcap cap_setuid,cap_setgid+ep " + p + ")"
		return c
	}
	how := "setuid root"
	if !setuid {
		how = "file capabilities"
	}
	c.Status, c.Detail = OK, p+" ("+how+")"
	return c
}

func hasFileCaps(p string) bool {
	buf := make([]byte, 64)
	n, err := syscall.Getxattr(p, "security.capability", buf)
	return err == nil && n > 0
}

// checkDevice opens dev read-write, as Podman's helpers will.
func checkDevice(dev, name, failStatus, why string) Check {
	c := Check{Name: name}
	fi, err := os.Stat(dev)
	if err != nil {
		c.Status, c.Detail = failStatus, fmt.Sprintf("%s is missing (%s)", dev, why)
		c.Fix = "give the container the device (docker run --device " + dev + ") or load its kernel module"
		return c
	}
	if fi.Mode()&os.ModeCharDevice == 0 {
		c.Status, c.Detail = failStatus, fmt.Sprintf("%s is not a character device (%s)", dev, why)
		c.Fix = "give the container the real device (docker run --device " + dev + ")"
		return c
	}
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		c.Status, c.Detail = failStatus, fmt.Sprintf("cannot open %s read-write: %v (%s)", dev, errors.Unwrap(err), why)
		c.Fix = "as root: chmod 0666 " + dev + " (the image's entrypoint does this)"
		return c
	}
	f.Close()
	c.Status, c.Detail = OK, dev+" usable"
	return c
}

func checkRuntimeDir(e Env) Check {
	c := Check{Name: "runtime-dir"}
	fix := fmt.Sprintf("as root: install -d -m 0700 -o %s /run/user/%d and export XDG_RUNTIME_DIR=/run/user/%d", orUID(e), e.UID, e.UID)
	if e.XDGRuntimeDir == "" {
		c.Status, c.Detail, c.Fix = Fail, "XDG_RUNTIME_DIR is not set", fix
		return c
	}
	fi, err := os.Stat(e.XDGRuntimeDir)
	if err != nil || !fi.IsDir() {
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("XDG_RUNTIME_DIR %s is not a directory", e.XDGRuntimeDir), fix
		return c
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil || int(st.Uid) != e.UID {
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("XDG_RUNTIME_DIR %s is not owned by uid %d", e.XDGRuntimeDir, e.UID), fix
		return c
	}
	c.Status, c.Detail = OK, e.XDGRuntimeDir
	if fi.Mode().Perm()&0o077 != 0 {
		c.Status, c.Detail = Warn, fmt.Sprintf("%s is mode %o; others can reach Podman's runtime files", e.XDGRuntimeDir, fi.Mode().Perm())
		c.Fix = "chmod 0700 " + e.XDGRuntimeDir
	}
	return c
}

const cgroup2Magic = 0x63677270

func checkCgroups(e Env, d *Decision) Check {
	c := Check{Name: "cgroups", Status: OK}
	var fs syscall.Statfs_t
	unified := syscall.Statfs(e.CgroupRoot, &fs) == nil && fs.Type == cgroup2Magic
	_, errSD := os.Stat(e.SystemdDir)
	bus := e.XDGRuntimeDir != "" && exists(filepath.Join(e.XDGRuntimeDir, "bus"))
	layout := "v1/hybrid"
	if unified {
		layout = "v2 (unified)"
	}
	if unified && errSD == nil && bus {
		d.CgroupManager = "systemd"
		c.Detail = "cgroup " + layout + " with systemd and a user D-Bus: cgroup_manager systemd"
		return c
	}
	d.CgroupManager = "cgroupfs"
	c.Detail = "cgroup " + layout + ", no systemd user session: cgroup_manager cgroupfs (no resource limits for rootless containers)"
	return c
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// checkRuntime picks crun on unified cgroups and runc on v1/hybrid, where
// crun fails to start rootless containers; either falls back to the other.
func checkRuntime(e Env, d *Decision) Check {
	c := Check{Name: "oci-runtime"}
	var fs syscall.Statfs_t
	unified := syscall.Statfs(e.CgroupRoot, &fs) == nil && fs.Type == cgroup2Magic
	order := []string{"runc", "crun"}
	if unified {
		order = []string{"crun", "runc"}
	}
	var tried []string
	for _, rt := range order {
		p, err := e.LookPath(rt)
		if err != nil {
			tried = append(tried, rt+": not installed")
			continue
		}
		if out, err := e.Version(p); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %s --version failed: %v %s", rt, p, err, firstLine(out)))
			continue
		}
		d.Runtime = rt
		c.Status, c.Detail = OK, fmt.Sprintf("%s (%s)", rt, p)
		if len(tried) > 0 {
			c.Detail += "; " + strings.Join(tried, "; ")
		}
		if rt == "crun" && hybrid(e.CgroupRoot) {
			c.Status = Warn
			c.Detail += "; crun cannot start rootless containers on hybrid cgroups (\"cgroups in hybrid mode not supported\")"
			c.Fix = "as root: apt-get install runc"
		}
		return c
	}
	c.Status, c.Detail, c.Fix = Fail, "no working OCI runtime: "+strings.Join(tried, "; "), "as root: apt-get install crun runc"
	return c
}

// hybrid reports a v1 hierarchy with a cgroup2 mount at <root>/unified.
func hybrid(root string) bool {
	var fs syscall.Statfs_t
	if syscall.Statfs(root, &fs) == nil && fs.Type == cgroup2Magic {
		return false
	}
	return syscall.Statfs(filepath.Join(root, "unified"), &fs) == nil && fs.Type == cgroup2Magic
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`)

func checkPodman(e Env, d *Decision) Check {
	c := Check{Name: "podman"}
	p, err := e.LookPath("podman")
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, "podman is not installed", "as root: apt-get install podman"
		return c
	}
	out, err := e.Version(p)
	m := versionRE.FindString(out)
	if err != nil || m == "" {
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("%s --version failed: %v %s", p, err, firstLine(out)), "reinstall podman"
		return c
	}
	d.PodmanVersion = m
	c.Status, c.Detail = OK, "podman "+m+" ("+p+")"
	return c
}

// Major returns the major version of a "X.Y.Z" string, 0 if unknown.
func Major(v string) int {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkNetwork finds the rootless network helper Podman uses by default:
// pasta from Podman 5, slirp4netns before.
func checkNetwork(e Env, d *Decision) Check {
	c := Check{Name: "network"}
	want, other := "slirp4netns", "pasta"
	if Major(d.PodmanVersion) >= 5 {
		want, other = "pasta", "slirp4netns"
	}
	if p, err := e.LookPath(want); err == nil {
		d.NetworkHelper = want
		c.Status, c.Detail = OK, fmt.Sprintf("%s (%s), Podman's default here", want, p)
		return c
	}
	pkg := map[string]string{"pasta": "passt", "slirp4netns": "slirp4netns"}
	if p, err := e.LookPath(other); err == nil {
		d.NetworkHelper = other
		c.Status, c.Detail = Warn, fmt.Sprintf("%s is missing, Podman's default network helper; only %s (%s) is there, containers need --network %s", want, other, p, other)
		c.Fix = "as root: apt-get install " + pkg[want]
		return c
	}
	c.Status, c.Detail, c.Fix = Fail, "neither pasta nor slirp4netns is installed", "as root: apt-get install "+pkg[want]
	return c
}

// checkStorage keeps a driver already configured or in use, else picks
// native overlay when the kernel mounts it in a user namespace on the
// storage filesystem, else fuse-overlayfs, else vfs.
func checkStorage(e Env, d *Decision, fuseOK bool) Check {
	c := Check{Name: "storage", Status: OK}
	if e.ExistingDrive != "" {
		d.StorageDriver = e.ExistingDrive
		c.Detail = e.ExistingDrive + " (already configured or in use by " + e.GraphRoot + "; kept)"
		return c
	}
	probeDir := nearestDir(e.GraphRoot)
	var overlayErr error = errors.New("no probe")
	if e.ProbeOverlay != nil {
		overlayErr = e.ProbeOverlay(probeDir)
	}
	if overlayErr == nil {
		d.StorageDriver = "overlay"
		c.Detail = "native overlay (the kernel mounts it in a user namespace on " + probeDir + ")"
		return c
	}
	if p, err := e.LookPath("fuse-overlayfs"); err == nil && fuseOK {
		d.StorageDriver, d.MountProgram = "overlay", p
		c.Detail = fmt.Sprintf("overlay through fuse-overlayfs (native overlay failed on %s: %v)", probeDir, overlayErr)
		return c
	}
	d.StorageDriver = "vfs"
	c.Status = Warn
	c.Detail = fmt.Sprintf("vfs: every layer is a full copy, slow and large (native overlay failed on %s: %v; fuse-overlayfs needs /dev/fuse and the package)", probeDir, overlayErr)
	c.Fix = "put the storage on a filesystem that allows overlay (a Docker volume for ~/.local/share/containers), or give /dev/fuse and install fuse-overlayfs"
	return c
}

// nearestDir returns p or its nearest existing ancestor.
func nearestDir(p string) string {
	for p != "" && p != "/" {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
		p = filepath.Dir(p)
	}
	return "/"
}

func checkHooksDir(e Env) Check {
	c := Check{Name: "hooks-dir"}
	if e.HooksDir == "" {
		c.Status, c.Detail, c.Fix = Warn, "no hooks directory configured: OCI hooks (the shield) will not run", "pass --hooks-dir DIR"
		return c
	}
	fi, err := os.Stat(e.HooksDir)
	if err != nil || !fi.IsDir() {
		c.Status, c.Detail = Warn, e.HooksDir+" does not exist: Podman ignores a missing hooks dir, so no hook (the shield) runs"
		c.Fix = "install the shield's hook there, or pass the right --hooks-dir"
		return c
	}
	if _, err := os.ReadDir(e.HooksDir); err != nil {
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("cannot read %s: %v", e.HooksDir, err), "as root: chmod a+rx "+e.HooksDir
		return c
	}
	c.Status, c.Detail = OK, e.HooksDir+" (written to [engine] hooks_dir of containers.conf)"
	return c
}
