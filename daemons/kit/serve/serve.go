package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/logging"
)

// Run calls fn with the logger of the daemon name (kit/logging on
// stderr; a bad TEROK_LOG_LEVEL is warned of, not fatal) and a context
// that ends on SIGTERM or SIGINT.
func Run(parent context.Context, name string, fn func(ctx context.Context, log zerolog.Logger) error) error {
	log, err := logging.New(os.Stderr, name)
	if err != nil {
		log.Warn().Err(err).Msg("log level")
	}
	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return fn(ctx, log)
}

// Server is a server of the house shape: unixhttp.Server,
// listenlimit.Server, or an *http.Server through HTTP.
type Server interface {
	// Serve answers on ln until Shutdown; nil after a clean shutdown.
	Serve(ln net.Listener) error
	// Shutdown stops accepting, waits for requests in flight until ctx
	// ends, then closes what is left.
	Shutdown(ctx context.Context) error
}

// Group runs a daemon's listeners and loops. The first of them to end
// (or the context given to NewGroup ending) stops the group.
type Group struct {
	ctx      context.Context
	cancel   context.CancelFunc
	grace    time.Duration
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error
	servers  []Server
	stopping []func()
	cleanups []func() error
}

// NewGroup returns a group that stops when ctx ends and then gives its
// listeners grace to finish the requests in flight.
func NewGroup(ctx context.Context, grace time.Duration) *Group {
	g := &Group{grace: grace}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

// Context ends when the group begins to stop.
func (g *Group) Context() context.Context { return g.ctx }

// Serve serves s on ln; what names the listener in its error.
func (g *Group) Serve(what string, s Server, ln net.Listener) {
	g.mu.Lock()
	g.servers = append(g.servers, s)
	g.mu.Unlock()
	g.member(func() error {
		if err := s.Serve(ln); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

// Go runs fn (a loop that returns when ctx ends) in the group.
func (g *Group) Go(fn func(ctx context.Context) error) {
	g.member(func() error { return fn(g.ctx) })
}

// Stopping has fn run when the group begins to stop, before its listeners
// shut down: it ends what a shutdown would wait for (a stream that
// follows until the daemon stops).
func (g *Group) Stopping(fn func()) {
	g.mu.Lock()
	g.stopping = append(g.stopping, fn)
	g.mu.Unlock()
}

// Cleanup has fn run once every listener and loop of the group has ended,
// in the order given; its error is returned by Wait when nothing failed
// before.
func (g *Group) Cleanup(fn func() error) {
	g.mu.Lock()
	g.cleanups = append(g.cleanups, fn)
	g.mu.Unlock()
}

func (g *Group) member(fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.fail(fn())
		g.cancel()
	}()
}

func (g *Group) fail(err error) {
	if err == nil {
		return
	}
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
}

// Wait blocks until the group stops, shuts its listeners down (within
// the grace, then closing what is left), waits for every member, runs the
// clean-ups and returns the first error.
func (g *Group) Wait() error {
	<-g.ctx.Done()
	g.mu.Lock()
	stopping, servers := g.stopping, g.servers
	g.mu.Unlock()
	for _, fn := range stopping {
		fn()
	}
	sctx, cancel := context.WithTimeout(context.Background(), g.grace)
	var sw sync.WaitGroup
	for _, s := range servers {
		sw.Add(1)
		go func() {
			defer sw.Done()
			_ = s.Shutdown(sctx)
		}()
	}
	sw.Wait()
	cancel()
	g.wg.Wait()
	g.mu.Lock()
	cleanups := g.cleanups
	g.mu.Unlock()
	for _, fn := range cleanups {
		g.fail(fn())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// HTTP gives an *http.Server the house shape: Serve returns nil after a
// shutdown, and Shutdown closes what is left when ctx ends first.
func HTTP(s *http.Server) Server { return httpServer{s} }

type httpServer struct{ s *http.Server }

func (h httpServer) Serve(ln net.Listener) error {
	if err := h.s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (h httpServer) Shutdown(ctx context.Context) error {
	err := h.s.Shutdown(ctx)
	if err != nil {
		_ = h.s.Close()
	}
	return err
}
