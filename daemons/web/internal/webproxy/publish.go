package webproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/inflight"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webports"
)

// Options are what a Publisher needs.
type Options struct {
	// First and Last bound the ports (default webports.FirstPort, webports.LastPort).
	First, Last int
	// Addresses says where browsers reach terok; its ListenHost is where
	// the task listeners bind.
	Addresses *Addresses
	// Hosts refuses unknown Host names on every task listener.
	Hosts *auth.Hosts
	// Tickets are the passes terok's API mints.
	Tickets *Tickets
	// SessionAlive tells whether the browser session a grant came from
	// is still live (nil: grants from sessions are refused).
	SessionAlive func(id string) bool
	// Instance names the grant cookies (auth.Instance).
	Instance string
	// Dialer reaches the tasks' apps.
	Dialer Dialer
	// GrantTTL bounds a grant (default DefaultGrantTTL).
	GrantTTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Wrap wraps each listener's handler (an access log, panic
	// recovery; nil: none).
	Wrap func(http.Handler) http.Handler
	// Limits are each listener's limits (kit/listenlimit; the zero
	// value: listenlimit.Default()). Every listener counts its own
	// connections; its one credential is the task (TaskUIKey).
	Limits listenlimit.Limits
	Log    zerolog.Logger
}

// TaskUIKey is the credential key a task's listener counts a request
// with a grant or a live ticket of the task under: every browser of the
// task shares it, so a task's own page that opens connections without
// end only starves its own UI.
func TaskUIKey(task string) string { return "task-ui:" + task }

// Publisher opens a listener for each web task on a port of the range,
// serving its UI (see the package doc), and closes it when the task's UI
// goes. It is the runner's port table. Safe for concurrent use. Close
// ends every listener and every request they serve (a WebSocket an app
// keeps open too), and returns once they have all ended.
type Publisher struct {
	o     Options
	alloc *webports.Allocator
	ctx   context.Context // ends at Close: every request's context
	stop  context.CancelFunc
	wg    sync.WaitGroup    // the listeners' Serve
	reqs  inflight.Requests // their requests

	mu     sync.Mutex
	byTask map[string]*published
	closed bool
}

type published struct {
	port int
	ln   net.Listener
	srv  *listenlimit.Server
	ui   *taskUI
	stop context.CancelFunc // ends the listener's requests
}

// NewPublisher checks o and returns a publisher with no listener open.
func NewPublisher(o Options) (*Publisher, error) {
	if o.First == 0 && o.Last == 0 {
		o.First, o.Last = webports.FirstPort, webports.LastPort
	}
	if o.Addresses == nil || o.Hosts == nil || o.Tickets == nil || o.Dialer == nil {
		return nil, errors.New("webproxy: publisher needs addresses, hosts, tickets and a dialer")
	}
	if o.GrantTTL <= 0 {
		o.GrantTTL = DefaultGrantTTL
	}
	if o.Limits == (listenlimit.Limits{}) {
		o.Limits = listenlimit.Default()
	}
	if err := o.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("webproxy: task UI listener limits: %w", err)
	}
	a, err := webports.NewAllocator(o.First, o.Last)
	if err != nil {
		return nil, err
	}
	a.SetHost(o.Addresses.ListenHost())
	ctx, stop := context.WithCancel(context.Background())
	return &Publisher{o: o, alloc: a, ctx: ctx, stop: stop, byTask: map[string]*published{}}, nil
}

func (p *Publisher) now() time.Time {
	if p.o.Now != nil {
		return p.o.Now()
	}
	return time.Now()
}

// Allocate gives taskID a port and opens its listener (its own port
// again when it has one).
func (p *Publisher) Allocate(taskID string) (int, error) {
	p.mu.Lock()
	if pb, ok := p.byTask[taskID]; ok {
		p.mu.Unlock()
		return pb.port, nil
	}
	p.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := p.alloc.Allocate(taskID)
		if err != nil {
			return 0, err
		}
		if err := p.open(taskID, port); err != nil {
			p.alloc.Release(taskID)
			lastErr = err
			continue
		}
		return port, nil
	}
	return 0, lastErr
}

// open binds port for taskID and serves its UI there.
func (p *Publisher) open(taskID string, port int) error {
	addr := net.JoinHostPort(p.o.Addresses.ListenHost(), strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s for task %s's web UI: %w", addr, taskID, err)
	}
	ui := newTaskUI(p, taskID, port)
	ctx, stop := context.WithCancel(p.ctx)
	var h http.Handler = p.reqs.Wrap(p.o.Hosts.Guard(ui))
	if p.o.Wrap != nil {
		h = p.o.Wrap(h)
	}
	// Behind the limits: the grant or ticket is checked from the headers
	// before anything else is read (ui.identify).
	srv := listenlimit.NewServer(WithContext(ctx, h), p.o.Limits, listenlimit.Options{
		Identify: ui.identify,
		Log:      p.o.Log.With().Str("task", taskID).Int("port", port).Logger(),
	})
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		stop()
		ln.Close()
		return errors.New("publisher closed")
	}
	if old, ok := p.byTask[taskID]; ok {
		p.mu.Unlock()
		stop()
		ln.Close()
		if old.port != port {
			return fmt.Errorf("task %s already has port %d", taskID, old.port)
		}
		return nil
	}
	p.byTask[taskID] = &published{port: port, ln: ln, srv: srv, ui: ui, stop: stop}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		if err := srv.Serve(ln); err != nil {
			p.o.Log.Warn().Err(err).Str("task", taskID).Int("port", port).Msg("task UI listener ended")
		}
	}()
	p.o.Log.Info().Str("task", taskID).Str("listen", addr).Msg("task UI listening")
	return nil
}

// Release closes taskID's listener and frees its port (a no-op without
// one).
func (p *Publisher) Release(taskID string) {
	p.mu.Lock()
	pb, ok := p.byTask[taskID]
	delete(p.byTask, taskID)
	p.mu.Unlock()
	p.alloc.Release(taskID)
	if !ok {
		return
	}
	pb.stop()
	closeNow(pb.srv)
	pb.ui.forget()
	p.o.Dialer.ForgetTask(taskID)
	p.o.Log.Info().Str("task", taskID).Int("port", pb.port).Msg("task UI closed")
}

// HostPort returns taskID's port while its listener is open.
func (p *Publisher) HostPort(taskID string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pb, ok := p.byTask[taskID]
	if !ok {
		return 0, false
	}
	return pb.port, true
}

// Restore opens the listeners of tasks that still run (found with
// webports.PortsFromContainers when terok-web starts). Ports outside the range or
// claimed twice are refused before anything opens; a port another
// program took meanwhile is reported, the others open.
func (p *Publisher) Restore(assigned map[string]int) error {
	if err := p.alloc.Restore(assigned); err != nil {
		return err
	}
	var errs []error
	for task, port := range assigned {
		if err := p.open(task, port); err != nil {
			p.alloc.Release(task)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every listener and its connections, ends every request
// they serve (an app's long streams and WebSockets would hold a graceful
// shutdown forever) and returns once all have ended.
func (p *Publisher) Close() {
	p.mu.Lock()
	p.closed = true
	all := p.byTask
	p.byTask = map[string]*published{}
	p.mu.Unlock()
	p.stop()
	for task, pb := range all {
		closeNow(pb.srv)
		pb.ui.forget()
		p.o.Dialer.ForgetTask(task)
	}
	p.wg.Wait()
	p.reqs.Close()
}

// closeNow closes srv's listener and every connection it serves but the
// hijacked ones (their requests' contexts end with the listener's).
func closeNow(srv *listenlimit.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = srv.Shutdown(ctx)
}

// WithContext gives every request h serves a context that also ends when
// ctx does (an http.Server's BaseContext, for servers that have none to
// set): long streams and WebSockets end with their listener.
func WithContext(ctx context.Context, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(rctx))
	})
}

// ListenerStats returns the connection counts of taskID's listener
// (false without one).
func (p *Publisher) ListenerStats(taskID string) (listenlimit.Stats, bool) {
	p.mu.Lock()
	pb, ok := p.byTask[taskID]
	p.mu.Unlock()
	if !ok {
		return listenlimit.Stats{}, false
	}
	return pb.srv.Stats(), true
}
