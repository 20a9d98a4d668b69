// Package webproxy publishes web-mode tasks: each gets a host port from
// 7860–7880 (Allocator), and its web UI is reverse-proxied at
// /tasks/<id>/ui/ on terok-web's listener (Proxy), so it is reachable
// wherever terok-web is, LAN included, behind terok's access token.
//
// # Ports
//
// Allocate gives a task the next port of the range that no task holds and
// no program on the host listens on (probed by binding the wildcard
// address), going round the range so a just-released port is reused last.
// Release frees it when the task ends or is removed. The allocator keeps
// no file: the runner puts the port in the container's LabelWebPort label
// (and its PortMapping, host IP 127.0.0.1), and at start-up
// PortsFromContainers and Restore rebuild the table from Podman.
//
// # Proxy
//
// A request for <prefix>/tasks/<id>/ui/<path>?<query> goes to
// http://127.0.0.1:<port>/<path>?<query> (escapes in <path> kept), with
// the Host of the target (dev servers that check it accept it), the
// standard X-Forwarded-For, -Host and -Proto (from TEROK_PUBLIC_URL when
// set, otherwise from the request; a client's own are not trusted), and
// X-Forwarded-Prefix: <prefix>/tasks/<id>/ui for apps that build links
// from it. WebSocket upgrades pass through; responses stream unbuffered.
// /tasks/<id>/ui without the slash redirects to the slash form, and the
// app's redirects to its own root ("/x" or http://127.0.0.1:<port>/x)
// are moved below the UI path. <prefix> is the path of TEROK_PUBLIC_URL:
// requests are accepted with it (an outer proxy that keeps it) and
// without it (one that strips it).
//
// terok's credentials never reach the task: the Authorization header is
// removed, and so are the cookies named in Options.DropCookies and the
// query parameters named in Options.DropQuery. The
// task's own cookies are kept to its UI path (Path moved below it, Domain
// dropped), and it cannot set a cookie named in DropCookies.
//
// An unknown task, or one without a port, answers 404; a task whose app
// does not answer (yet) 502, naming the task and the port.
//
// The UI is served from terok-web's own origin: a task's pages can run
// scripts in it. Agents are untrusted, so do not open the UI of a task
// whose code you do not trust in the browser that holds terok's token;
// its published port (a different origin) is the safer door.
package webproxy
