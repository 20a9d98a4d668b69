// Package supervisorapi is the typed Go client of terok-supervisord's
// XML-RPC interface (the one Python's supervisorctl speaks), for other terok
// components that show or control the daemons: process info, start, stop,
// signal, reread/update, and Health. Like every terok client it is built with
// New(socket) and its errors match kit/unixhttp's sentinels with errors.Is
// (an unknown program is unixhttp.ErrNotFound, a dead socket
// unixhttp.ErrUnavailable). It depends on the standard library, kit and
// the supervisor's XML-RPC codec.
package supervisorapi
