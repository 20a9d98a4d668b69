package preflight

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// UsernsArg is the hidden first argument with which the podman-service
// binary runs as the child of ProbeUserns (it only exits 0).
const UsernsArg = "__probe-userns"

// ProbeUserns checks whether this user may create a user namespace, as
// rootless Podman must for every container: it re-runs the current
// executable with UsernsArg in a new user namespace mapping only itself.
// Docker's default seccomp profile (a container without --privileged)
// refuses that with EPERM, which Podman reports as "cannot clone:
// Operation not permitted".
func ProbeUserns() error {
	cmd := exec.Command("/proc/self/exe", UsernsArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return fmt.Errorf("clone: %w", errno)
		}
		return fmt.Errorf("%v %s", err, out)
	}
	return nil
}

// DockerFlags are the docker run options that let rootless Podman run in
// the terok image: --privileged, or where Docker cannot grant that, the
// equivalent list of docs/docker.md.
const DockerFlags = "docker run --privileged, or where Docker refuses that (\"unable to apply caps\") the options of docs/docker.md: " +
	"--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined " +
	"--security-opt systempaths=unconfined --device /dev/fuse --device /dev/net/tun"

// CheckUserns fails when no user namespace can be created: rootless
// Podman cannot start a single container then, whatever else is right.
func CheckUserns(e Env) Check {
	c := Check{Name: "userns", Status: OK, Detail: "user namespaces can be created"}
	if e.ProbeUserns == nil {
		c.Detail = "not probed"
		return c
	}
	err := e.ProbeUserns()
	if err == nil {
		return c
	}
	c.Status = Fail
	c.Detail = fmt.Sprintf("user namespaces cannot be created here (%v): rootless Podman cannot start any container", err)
	if e.InContainer {
		c.Detail = fmt.Sprintf("user namespaces cannot be created in this container (%v): rootless Podman cannot start any container; the container was started without --privileged", err)
		c.Fix = "start the container again with " + DockerFlags
		return c
	}
	c.Fix = "allow unprivileged user namespaces: sysctl -w user.max_user_namespaces=15000 (and on Debian kernel.unprivileged_userns_clone=1, on Ubuntu 24.04 kernel.apparmor_restrict_unprivileged_userns=0); a seccomp or AppArmor profile of a container must allow clone with CLONE_NEWUSER"
	return c
}
