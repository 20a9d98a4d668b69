package unixhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
)

// Listen opens a unix socket at path with the given file mode. The parent
// directory is created (0755) when missing; the /tmp fallback of
// paths.RunDir is created 0700 and refused when it is not this user's own
// (paths.PrepareSocketDir). A stale socket file (nobody
// answers on it) is removed first; a live one yields ErrSocketInUse and a
// non-socket file ErrNotSocket, so nothing that belongs to somebody else is
// deleted.
func Listen(path string, mode os.FileMode) (net.Listener, error) {
	if err := paths.PrepareSocketDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if err := ClearStale(path); err != nil {
		return nil, fmt.Errorf("%w; stop the other process or choose another --socket", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	return ln, nil
}

// ClearStale removes the socket file at path when nobody answers on it (a
// crashed owner left it behind). A missing path is fine. A live socket
// yields ErrSocketInUse and a non-socket file ErrNotSocket, both naming the
// path; neither is touched.
func ClearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s: %w", path, ErrNotSocket)
	}
	c, err := net.DialTimeout("unix", path, 500*time.Millisecond)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: %w", path, ErrSocketInUse)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// Server serves an http.Handler on a listener and shuts down gracefully.
type Server struct {
	srv *http.Server
}

// ServerOption changes how a Server is built.
type ServerOption func(*http.Server)

// WithPeerCred records the peer credentials of each unix-socket connection
// in its requests' contexts; read them with PeerCred.
func WithPeerCred() ServerOption {
	return func(s *http.Server) { s.ConnContext = peerCredContext }
}

// WithMiddleware serves the handler behind mw (kit/httpmw's access log
// and panic recovery), outside the JSON answers for unknown routes, so
// those are logged too.
func WithMiddleware(mw func(http.Handler) http.Handler) ServerOption {
	return func(s *http.Server) { s.Handler = mw(s.Handler) }
}

// NewServer wraps h. Errors of the HTTP machinery go to log. Requests that
// match no route of h (a *http.ServeMux) answer with the JSON error body
// like every other error, not the mux's plain text.
func NewServer(h http.Handler, log zerolog.Logger, opts ...ServerOption) *Server {
	srv := &http.Server{
		Handler:           JSONErrors(h),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          stdLogger(log),
	}
	for _, o := range opts {
		o(srv)
	}
	return &Server{srv: srv}
}

// Serve answers on ln until Shutdown. It returns nil after a clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then closes what is left (long-lived streams included).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}

// Servable is a server with the shape every terok server has: *Server,
// and listenlimit.Server for TCP listeners.
type Servable interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// ServeUntil serves on ln until ctx is cancelled, then shuts down within
// grace. A unix socket file is removed by the listener on close.
func ServeUntil(ctx context.Context, s Servable, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = s.Shutdown(sctx)
	return <-errc
}

// WriteJSON writes v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorBody is the wire form of every error answer: what went wrong, and
// optionally more about it (the cause, or what to do).
type ErrorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// WriteError writes {"error": err} with the given status.
func WriteError(w http.ResponseWriter, status int, err error) {
	WriteJSON(w, status, ErrorBody{Error: err.Error()})
}

// WriteErrorDetail writes {"error": msg, "detail": detail} with the given
// status.
func WriteErrorDetail(w http.ResponseWriter, status int, msg, detail string) {
	WriteJSON(w, status, ErrorBody{Error: msg, Detail: detail})
}

// DecodeJSON reads a JSON request body of at most limit bytes into v,
// refusing unknown fields so typos in requests are reported, not ignored.
func DecodeJSON(r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode request body: %w", err)
	}
	return nil
}
