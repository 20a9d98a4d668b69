// Package attach carries a terminal in a task container over a WebSocket:
// `terok task attach ID` and the browser's terminal both speak it.
//
// The server side (Handler, Serve) creates a Podman exec session with a
// pseudo-terminal in the task's running container, starts it attached and
// relays it over the WebSocket until the process exits. The client side
// (Dial, Session, Run) puts the local terminal in raw mode, forwards
// keystrokes and output, follows window size changes and returns the
// process's exit code.
//
// # Protocol
//
// The client opens a WebSocket, optionally with ?rows=R&cols=C for the
// first terminal size (so the shell's first output already fits). Then:
//
//   - binary frames, both ways: raw terminal bytes (client → server is
//     the terminal's input, server → client its output);
//   - text frames, client → server: {"type":"resize","rows":R,"cols":C};
//   - a text frame, server → client, last: {"type":"exit","code":N}, then
//     a normal close.
//
// Unknown text frames are ignored, so either side may learn new types.
// Failures before the WebSocket is up (the container does not run, Podman
// is down) are plain HTTP errors with a JSON {"error": ...} body: 404 for
// an unknown container, 409 for one that does not run, 502 for Podman
// failing. A failure after it is a close with status 1011 and the reason.
//
// Leaving: closing the WebSocket (or dropping the connection) ends the
// relay and sends the process SIGHUP, as closing a terminal window does;
// so does the server's shutdown, which ends the connection. Each attach
// starts a new process; there is no re-attaching to an old one.
package attach
