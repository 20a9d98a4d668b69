package listenlimit

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one accepted connection, counted from Accept to its first Close.
// The fields under "guarded by Server.mu" say where it is counted.
type conn struct {
	net.Conn
	s *Server

	// guarded by Server.mu
	state        http.ConnState // New, Active or Idle as the server reports
	credentialed bool
	key          string        // the credential's key when credentialed
	elem         *list.Element // in Server.uncred when not credentialed
	gone         bool          // no longer counted (closed or evicted)

	closeOnce sync.Once

	// The header scan runs in the server's reading goroutine only, from
	// the time a request's headers are awaited (StateNew, StateIdle) to
	// the blank line ending them.
	scanning atomic.Bool
	scan     scanState
	folded   atomic.Bool
}

// scanState is where the header scan stands in the byte stream.
type scanState uint8

const (
	scanInLine    scanState = iota // inside a line (the request line first)
	scanLineStart                  // just after a line feed
	scanCR                         // a CR at the start of a line
)

// Read scans header bytes for folded lines while a request's headers are
// awaited; everything else passes untouched.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.scanning.Load() {
		c.scanHeaders(p[:n])
	}
	return n, err
}

// scanHeaders follows the header block: a line that starts with a space
// or a tab continues the line before it (obs-fold); an empty line ends the
// block and the scan.
func (c *conn) scanHeaders(p []byte) {
	for _, b := range p {
		switch c.scan {
		case scanInLine:
			if b == '\n' {
				c.scan = scanLineStart
			}
		case scanLineStart:
			switch b {
			case ' ', '\t':
				c.folded.Store(true)
				c.scan = scanInLine
			case '\r':
				c.scan = scanCR
			case '\n':
				c.scanning.Store(false)
				return
			default:
				c.scan = scanInLine
			}
		case scanCR:
			if b == '\n' {
				c.scanning.Store(false)
				return
			}
			c.scan = scanInLine
		}
	}
}

// startScan arms the header scan for the next request.
func (c *conn) startScan() {
	c.scan = scanInLine
	c.folded.Store(false)
	c.scanning.Store(true)
}

// CloseWrite closes the sending half when the connection has one (TCP):
// Go's server does so before closing a connection whose request it did not
// read to the end, so the client reads the answer before a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection once and stops counting it.
func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.s.forget(c)
		err = c.Conn.Close()
	})
	return err
}

// refuseRaw writes a whole 429 response on a connection no handler is
// answering and closes it.
func (c *conn) refuseRaw(r Refusal) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(r.raw(c.s.body))
	c.Close()
}

// listener wraps the daemon's listener: every accepted connection is
// counted, and one past the limit of connections without a credential
// closes the oldest such connection still waiting for its headers, or is
// itself refused when there is none.
type listener struct {
	net.Listener
	s *Server
}

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: nc, s: l.s, state: http.StateNew}
		c.startScan()
		victim, ok := l.s.admit(c)
		if victim != nil {
			go victim.refuseRaw(newRefusal(LimitUncredentialed, l.s.lim.MaxUncredentialedConns))
		}
		if !ok {
			go c.refuseRaw(newRefusal(LimitUncredentialed, l.s.lim.MaxUncredentialedConns))
			continue
		}
		return c, nil
	}
}
