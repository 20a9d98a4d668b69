// Package supervisorapi is the typed Go client of terok-supervisord's
// XML-RPC interface (the one Python's supervisorctl speaks), for other terok
// components that show or control the daemons: process info, start, stop,
// signal, reread/update. It depends only on the standard library and the
// supervisor's XML-RPC codec.
package supervisorapi
