package preflight

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// ProbeArg is the hidden first argument with which the podman-service
// binary runs ProbeOverlayChild inside a fresh user and mount namespace.
const ProbeArg = "__probe-overlay"

// ProbeOverlay checks whether the kernel lets this user mount a native
// overlay on dir's filesystem (as rootless Podman would): it re-runs the
// current executable with ProbeArg in a new user and mount namespace.
func ProbeOverlay(dir string) error {
	tmp, err := os.MkdirTemp(dir, ".podman-service-overlay-")
	if err != nil {
		return fmt.Errorf("make probe dir in %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("/proc/self/exe", ProbeArg, tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("overlay probe: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ProbeOverlayChild runs inside the namespaces made by ProbeOverlay:
// it mounts an overlay below dir, writes a file and deletes a lower one
// (a whiteout), then unmounts.
func ProbeOverlayChild(dir string) error {
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "lower", "old"), []byte("x"), 0o644); err != nil {
		return err
	}
	_ = syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "")
	merged := filepath.Join(dir, "merged")
	base := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	err := syscall.Mount("overlay", merged, "overlay", 0, base+",userxattr")
	if err != nil {
		err = syscall.Mount("overlay", merged, "overlay", 0, base)
	}
	if err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	defer syscall.Unmount(merged, syscall.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(merged, "new"), []byte("y"), 0o644); err != nil {
		return fmt.Errorf("write through overlay: %w", err)
	}
	if err := os.Remove(filepath.Join(merged, "old")); err != nil {
		return fmt.Errorf("whiteout through overlay: %w", err)
	}
	return nil
}
