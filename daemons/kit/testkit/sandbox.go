package testkit

import (
	"os"
	"os/exec"
	"strconv"
)

// Sandbox runs a program inside another Debian root filesystem (the
// cached Debian 13 of scripts/base-rootfs.sh, for tests of its Podman),
// as a test user: a fresh overlay over Rootfs in a private mount
// namespace, /dev, /proc and /sys, the test's Base and BinDir directories
// at their host paths, the user's passwd, group, subuid and subgid
// entries; then pivot_root and a drop to the user. The host's network
// namespace is kept. Needs root, unshare(1) and setpriv(1).
type Sandbox struct {
	Rootfs string // the root filesystem (read-only underneath the overlay)
	Base   string // a directory the test owns: the overlay lives in it
	BinDir string // where the test's binaries are
	User   string // the test user, its uid and gid
	UID    int
	GID    int
}

// sandboxScript does what Sandbox says; its arguments are the program's
// environment ("K=V"...) followed by the program and its arguments.
const sandboxScript = `set -e
ov=$(mktemp -d "$BASE/ov-XXXXXX"); mkdir "$ov/upper" "$ov/work" "$ov/root"
M=$ov/root
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$ov/upper,workdir=$ov/work" "$M"
mount --rbind /dev "$M/dev"; mount -t proc proc "$M/proc"; mount --rbind /sys "$M/sys"
mount -t tmpfs tmpfs "$M/tmp"
for d in "$BASE" "$BINDIR"; do mkdir -p "$M$d"; mount --bind "$d" "$M$d"; done
getent passwd "$TUSER" >> "$M/etc/passwd"; getent group "$TUSER" >> "$M/etc/group"
grep "^$TUSER:" /etc/subuid >> "$M/etc/subuid"; grep "^$TUSER:" /etc/subgid >> "$M/etc/subgid"
cd "$M"; mkdir .oldroot; pivot_root . .oldroot; cd /; umount -l /.oldroot; rmdir /.oldroot
exec setpriv --reuid="$RUID" --regid="$RGID" --clear-groups env -i "$@"
`

// Command returns the command that runs argv with exactly the
// environment environ ("K=V") in the sandbox.
func (s Sandbox) Command(environ []string, argv ...string) *exec.Cmd {
	args := append([]string{"-m", "--propagation", "private", "bash", "-c", sandboxScript, "sandbox"}, environ...)
	cmd := exec.Command("unshare", append(args, argv...)...)
	cmd.Env = append(os.Environ(), "BASE="+s.Base, "BINDIR="+s.BinDir, "ROOTFS="+s.Rootfs,
		"RUID="+strconv.Itoa(s.UID), "RGID="+strconv.Itoa(s.GID), "TUSER="+s.User)
	return cmd
}
