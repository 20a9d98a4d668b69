// Package ccconf reads the configuration Podman will actually use, merged
// from the system and user containers.conf files, through
// github.com/containers/common/pkg/config — the code Podman itself uses —
// behind a small interface.
package ccconf
