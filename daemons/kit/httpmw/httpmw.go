package httpmw

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// MaxPathBytes bounds the path in an access line; a longer one is cut and
// ends with "…".
const MaxPathBytes = 256

// Message is the message of every access line.
const Message = "request"

// Wrap returns next behind panic recovery and the access log, which go
// to log.
func Wrap(next http.Handler, log zerolog.Logger) http.Handler {
	return &handler{next: next, log: log}
}

// Middleware is Wrap for log as a function of the handler, for
// unixhttp.WithMiddleware.
func Middleware(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return Wrap(next, log) }
}

type handler struct {
	next http.Handler
	log  zerolog.Logger
}

type lineKey struct{}

// Line is the access line of one request, which its handler may add to.
// Its methods may be called on nil (a handler served without Wrap) and
// from any goroutine.
type Line struct {
	mu     sync.Mutex
	notes  []func(*zerolog.Event)
	failed string
}

// LineOf returns the access line of the request ctx belongs to, nil
// outside Wrap.
func LineOf(ctx context.Context) *Line {
	l, _ := ctx.Value(lineKey{}).(*Line)
	return l
}

// Add has fn add fields to the line when it is written, after the handler
// returned: fn sees the final values (bytes read, the outcome). Never add
// a secret.
func (l *Line) Add(fn func(*zerolog.Event)) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.notes = append(l.notes, fn)
	l.mu.Unlock()
}

// Fail marks the request as failed for a reason the status may not show
// (a stream cut after its header): the line is written at warn level
// with the reason as its error. The last reason given wins.
func (l *Line) Fail(reason string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.failed = reason
	l.mu.Unlock()
}

func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	line := &Line{}
	w := &writer{ResponseWriter: rw}
	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler {
			h.recovered(w, r, v)
		}
		h.write(w, r, line, start, v != nil)
		if v == http.ErrAbortHandler || w.cut {
			// Ends the connection without a word: the answer had begun.
			panic(http.ErrAbortHandler)
		}
	}()
	h.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), lineKey{}, line)))
}

// recovered logs a panic with its stack and answers 500 when nothing was
// sent yet; otherwise the connection is to be cut.
func (h *handler) recovered(w *writer, r *http.Request, v any) {
	h.log.Error().Str("panic", fmt.Sprint(v)).Str("method", r.Method).Str("path", cleanPath(r)).
		Str("stack", string(debug.Stack())).Msg("handler panicked; the daemon goes on serving")
	switch {
	case w.hijacked:
	case w.status == 0:
		hd := w.Header()
		for k := range hd {
			delete(hd, k)
		}
		unixhttp.WriteErrorDetail(w, http.StatusInternalServerError, "internal error: the daemon failed on this request",
			"a bug in the daemon; its log has the details, and it goes on serving")
	default:
		w.cut = true
	}
}

func (h *handler) write(w *writer, r *http.Request, line *Line, start time.Time, panicked bool) {
	status := w.status
	if status == 0 && !w.hijacked {
		status = http.StatusOK // the handler wrote nothing: net/http answers 200
	}
	line.mu.Lock()
	notes, failed := line.notes, line.failed
	line.mu.Unlock()
	var ev *zerolog.Event
	switch {
	case panicked || status >= 500 || failed != "":
		ev = h.log.Warn()
	case r.URL.Path == health.Path && status < 300:
		// the UI and `terok health` poll it
		ev = h.log.Debug()
	default:
		ev = h.log.Info()
	}
	if ev == nil {
		return // below the logger's level
	}
	ev = ev.Str("method", r.Method).Str("path", cleanPath(r)).Int("status", status).Int64("bytes", w.n).
		Dur("duration", time.Since(start))
	if p, ok := unixhttp.PeerCred(r.Context()); ok {
		ev = ev.Int("uid", p.UID)
	} else if r.RemoteAddr != "" && r.RemoteAddr != "@" {
		ev = ev.Str("remote", r.RemoteAddr)
	}
	if w.hijacked {
		ev = ev.Bool("hijacked", true)
	}
	if panicked {
		ev = ev.Bool("panicked", true)
	}
	for _, fn := range notes {
		fn(ev)
	}
	if failed != "" {
		ev = ev.Str("error", failed)
	}
	ev.Msg(Message)
}

// cleanPath is the request's path, without its query, bounded.
func cleanPath(r *http.Request) string {
	p := r.URL.Path
	if len(p) > MaxPathBytes {
		p = p[:MaxPathBytes] + "…"
	}
	return p
}

// writer counts what the handler writes and keeps the status. It passes
// flushes, hijacks and the deadlines of http.ResponseController on to the
// server's writer (Flush, Hijack, Unwrap).
type writer struct {
	http.ResponseWriter
	status   int
	n        int64
	hijacked bool
	cut      bool
}

func (w *writer) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Flush sends what is buffered to the client.
func (w *writer) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection to the handler.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

// Unwrap returns the server's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
