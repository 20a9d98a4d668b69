package child

import "errors"

// ErrSocketInUse means another process already answers on the Podman
// socket path, so it is not taken over.
var ErrSocketInUse = errors.New("podman socket is in use by another process")

// ErrNotSocket means the Podman socket path exists and is not a socket.
var ErrNotSocket = errors.New("podman socket path exists and is not a socket")
