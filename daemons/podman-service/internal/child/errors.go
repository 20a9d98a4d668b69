package child

import "github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"

// ErrSocketInUse means another process already answers on the Podman
// socket path, so it is not taken over.
var ErrSocketInUse = unixhttp.ErrSocketInUse

// ErrNotSocket means the Podman socket path exists and is not a socket.
var ErrNotSocket = unixhttp.ErrNotSocket
