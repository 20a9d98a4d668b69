// Package webproxy publishes web-mode tasks' UIs, each on its own origin:
// terok-web itself listens on the task's port from 7860–7880, on the host
// address its main listener binds (Publisher), and proxies to the app in
// the task's container through a connection opened inside the task's
// network namespace (a Dialer: package nsdial). Podman publishes nothing,
// so nothing but terok-web reaches the app from the host.
//
// # Ports
//
// Allocate gives a task the next port of the range that no task holds and
// that the listen address can bind, going round the range so a
// just-released port is reused last; the listener opens then and closes
// at Release (the task ended). The runner records the port in the
// container's LabelWebPort label, and at start-up PortsFromContainers and
// Restore open the listeners of running tasks again.
//
// # Who gets in
//
// A task's listener answers only a browser holding a grant for that task:
// terok's UI asks the API for a ticket (Tickets: one use, a minute) and
// links to http://HOST:PORT/...?terok-ui-ticket=T; the listener swaps the
// ticket for a cookie whose name is the listener's own
// (terok_ui_<instance>_<port>, HttpOnly, SameSite=Strict) and redirects to
// the same URL without the ticket. A grant made from a browser session
// ends with that session. Without one, a page says to open the UI from
// terok's task page.
//
// Browsers send a host's cookies to all its ports: terok's own session and
// other tasks' grants reach every task listener. Every cookie whose name
// starts with terok_ is removed before a request reaches the app, a
// terok session is never accepted here, and the app's answers cannot set
// such a cookie.
//
// # What the app may not do
//
// Removed from the app's answers: Set-Cookie for terok_ names (and the
// Domain of every other cookie), Service-Worker-Allowed, Clear-Site-Data
// (it could clear terok's cookies: they share the host) and
// Strict-Transport-Security (it would hold for every port of the host). A
// Content-Security-Policy frame-ancestors lets only the task's own origin
// and terok's embed the UI. Service worker scripts are refused (a port is
// used again by later tasks, whose pages a worker would control), and the
// first visit of a task clears what the browser kept for the port
// (Clear-Site-Data: "cache", "storage", honoured on secure origins).
// Requests the browser marks as coming from another origin (another
// task's page, Sec-Fetch-Site) may only navigate; WebSocket upgrades
// must come from the task's own origin.
package webproxy
