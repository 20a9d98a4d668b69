// Package nsdial opens TCP connections inside a task container's network
// namespace, so terok-web can reach a web task's app without Podman
// publishing its port on the host (where anyone on the host could reach
// it without a credential).
//
// # How
//
// terok-web runs as the user that owns rootless Podman's user namespace,
// so it may join that namespace, and with it the container's network
// namespace, but only from a single-threaded process (setns(2) of a user
// namespace refuses a multithreaded caller, and Go's runtime always is
// one). So a Relay is a child: util-linux's
//
//	nsenter --user=/proc/self/fd/4 --net=/proc/self/fd/5 --preserve-credentials -- EXE ARGS...
//
// runs terok-web's own relay command (Serve) inside the container's user
// and network namespaces. The namespace files are opened by terok-web
// first and the container's pid checked again after they are open (Start's
// verify), so a pid reused between the look-up and the open cannot lead
// the relay elsewhere. The mount namespace stays the host's: the relay is
// the host's binary, invisible from the task (another pid namespace).
//
// # Protocol
//
// Parent and relay share a unix SOCK_SEQPACKET pair (fd 3 in the relay).
// A request is 8 bytes: a 32-bit id and a 16-bit port (big-endian). The
// relay connects to 127.0.0.1:port in the namespace (then [::1]:port when
// that is refused) and answers the id, a status byte (0 ok) and, on
// success, the connected socket itself as SCM_RIGHTS; on failure the
// error's text. The socket keeps belonging to the container's namespace
// when it arrives in terok-web, so the bytes then flow without a copy
// through the relay.
//
// The relay drops every capability and sets no_new_privs before it
// serves, and exits when the parent's end closes.
package nsdial

// RelayCommand is terok-web's hidden subcommand that runs Serve.
const RelayCommand = "netns-relay"
