package unixhttp

import (
	"context"
	"net"

	"golang.org/x/sys/unix"
)

type peerKey struct{}

// Peer is who is on the other end of a unix-socket connection.
type Peer struct {
	UID, GID, PID int
}

func peerCredContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var p *Peer
	_ = rc.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			p = &Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}
		}
	})
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, *p)
}

// PeerCred returns the credentials of the connection a request came on,
// recorded by a server built WithPeerCred. ok is false when they are not
// known (another server, or not a unix socket): treat such a caller as
// nobody in particular, never as root.
func PeerCred(ctx context.Context) (p Peer, ok bool) {
	p, ok = ctx.Value(peerKey{}).(Peer)
	return p, ok
}
