package entrypoint

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// containerPath matches the 64-hex id in the paths Docker and Podman bind
// into a container (its resolv.conf, hostname and hosts files live under
// /var/lib/docker/containers/<id>/ or .../overlay-containers/<id>/userdata/).
var containerPath = regexp.MustCompile(`containers/([0-9a-f]{64})/`)

// shortID matches the hostname Docker gives a container by default: the
// first 12 hex digits of its id.
var shortID = regexp.MustCompile(`^[0-9a-f]{12}$`)

// ContainerID returns the short (12 hex digit) id of the container this
// process runs in, which `docker logs` and `docker exec` accept as
// printed: from mountinfo (/proc/self/mountinfo) when a mount's source
// path carries the id, else from hostname when it is the short id Docker
// gives by default; "" when neither tells (the caller then says so
// instead of printing a placeholder). A hostname is used only as a last
// resort: with --network host it is the host's, with --hostname the
// user's.
func ContainerID(mountinfo io.Reader, hostname string) string {
	if mountinfo != nil {
		sc := bufio.NewScanner(mountinfo)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if m := containerPath.FindStringSubmatch(sc.Text()); m != nil {
				return m[1][:12]
			}
		}
	}
	if h := strings.TrimSpace(hostname); shortID.MatchString(h) {
		return h
	}
	return ""
}
