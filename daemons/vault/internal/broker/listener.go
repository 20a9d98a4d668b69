package broker

import (
	"net"
	"net/http"
	"sync"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/config"
)

// This file is the one place that decides how the broker's listener
// behaves; a shared listener-limits package can replace it whole.

// NewServer returns the broker's HTTP server with the limits: a bound on
// reading headers and on their size, an idle timeout for kept-alive
// connections, and no write timeout (answers stream for as long as the
// model writes). Request bodies are bounded by the broker itself.
func NewServer(h http.Handler, l config.Limits, log zerolog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout.D(),
		IdleTimeout:       l.IdleTimeout.D(),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          stdLog(log),
	}
}

// LimitListener accepts at most n connections at once; more wait in the
// kernel's backlog until one closes.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
