package listenlimit

import (
	"container/list"
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Credential is what Identify found in a request.
type Credential struct {
	// Key names the credential for counting and in logs: a token's id, a
	// session's id. It is logged, so it must not be the secret itself.
	Key string
	// Value is anything the daemon wants its handler to have (the token's
	// identity); the handler reads it with CredentialOf.
	Value any
}

// Identify tells whether a request carries a valid credential, from its
// headers alone (it must not read the body).
type Identify func(r *http.Request) (Credential, bool)

// Options are a listener's parts besides its limits.
type Options struct {
	// Identify is required.
	Identify Identify
	// Log receives refusals (warn, once per key and limit per minute) and
	// the HTTP server's own errors (debug).
	Log zerolog.Logger
	// Body renders refusals; nil: JSONBody.
	Body BodyFunc
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Server is an http.Server behind the limits.
type Server struct {
	http     *http.Server
	lim      Limits
	identify Identify
	log      zerolog.Logger
	body     BodyFunc
	now      func() time.Time
	refusals refusalLog
	next     http.Handler

	mu       sync.Mutex
	uncred   *list.List // of *conn without a credential, oldest first
	cred     int
	perCred  map[string]int
	refused  map[Limit]uint64
	accepted uint64
}

// Stats is a snapshot of a Server's counts.
type Stats struct {
	// Uncredentialed and Credentialed are the open connections of each
	// kind; PerCredential those of each credential key.
	Uncredentialed int
	Credentialed   int
	PerCredential  map[string]int
	// Accepted counts the connections accepted so far, Refused the
	// refusals of each limit.
	Accepted uint64
	Refused  map[Limit]uint64
}

// NewServer serves h behind lim. lim must be valid (Validate).
func NewServer(h http.Handler, lim Limits, opts Options) *Server {
	s := &Server{lim: lim, identify: opts.Identify, log: opts.Log, body: opts.Body, now: opts.Now, next: h,
		uncred: list.New(), perCred: map[string]int{}, refused: map[Limit]uint64{}}
	if s.body == nil {
		s.body = JSONBody
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ConnState:         s.connState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if lc, ok := c.(*conn); ok {
				return context.WithValue(ctx, connKey{}, lc)
			}
			return ctx
		},
		ErrorLog: log.New(debugWriter{opts.Log}, "", 0),
	}
	return s
}

// Serve answers on ln until Shutdown or Close; it returns nil after them.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(&listener{Listener: ln, s: s})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	return err
}

// Stats returns the current counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Uncredentialed: s.uncred.Len(), Credentialed: s.cred, Accepted: s.accepted,
		PerCredential: map[string]int{}, Refused: map[Limit]uint64{}}
	for k, v := range s.perCred {
		st.PerCredential[k] = v
	}
	for k, v := range s.refused {
		st.Refused[k] = v
	}
	return st
}

type connKey struct{}
type credKey struct{}

// CredentialOf returns the credential the limits found in r (false for a
// request without one, or one not served by a Server).
func CredentialOf(r *http.Request) (Credential, bool) {
	c, ok := r.Context().Value(credKey{}).(Credential)
	return c, ok
}

// admit counts a new connection as one without a credential. Past the
// limit it takes the oldest such connection that is waiting for its
// request's headers out of the count and returns it to be refused; with
// none, ok is false and c is refused itself.
func (s *Server) admit(c *conn) (victim *conn, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted++
	if s.uncred.Len() >= s.lim.MaxUncredentialedConns {
		for e := s.uncred.Front(); e != nil; e = e.Next() {
			v := e.Value.(*conn)
			if v.state == http.StateNew || v.state == http.StateIdle {
				victim = v
				break
			}
		}
		s.refusedLocked(LimitUncredentialed, "")
		if victim == nil {
			c.gone = true
			return nil, false
		}
		s.uncountLocked(victim)
		victim.gone = true
	}
	c.elem = s.uncred.PushBack(c)
	return victim, true
}

// uncountLocked takes c out of whichever count holds it.
func (s *Server) uncountLocked(c *conn) {
	if c.credentialed {
		s.cred--
		if s.perCred[c.key]--; s.perCred[c.key] <= 0 {
			delete(s.perCred, c.key)
		}
		c.credentialed, c.key = false, ""
		return
	}
	if c.elem != nil {
		s.uncred.Remove(c.elem)
		c.elem = nil
	}
}

// forget stops counting a closed connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.gone {
		s.uncountLocked(c)
		c.gone = true
	}
}

// connState follows the server's view of each connection: which ones wait
// for a request (and may be closed for a newcomer) and when to scan the
// next request's headers.
func (s *Server) connState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	switch st {
	case http.StateNew, http.StateActive, http.StateIdle:
		s.mu.Lock()
		c.state = st
		s.mu.Unlock()
		if st == http.StateIdle {
			c.startScan()
		}
	case http.StateHijacked:
		// Its new owner closes it; counted until then.
		s.mu.Lock()
		c.state = st
		s.mu.Unlock()
	}
}

// bind counts c under key, or returns the refusal when a limit is full.
func (s *Server) bind(c *conn, key string) (Refusal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gone {
		return Refusal{}, true // closed under us; the answer goes nowhere
	}
	if c.credentialed && c.key == key {
		return Refusal{}, true
	}
	if s.perCred[key] >= s.lim.MaxConnsPerCredential {
		s.refusedLocked(LimitPerCredential, key)
		return newRefusal(LimitPerCredential, s.lim.MaxConnsPerCredential), false
	}
	if !c.credentialed && s.cred >= s.lim.MaxCredentialedConns {
		s.refusedLocked(LimitCredentialed, key)
		return newRefusal(LimitCredentialed, s.lim.MaxCredentialedConns), false
	}
	s.uncountLocked(c)
	c.credentialed, c.key = true, key
	s.cred++
	s.perCred[key]++
	return Refusal{}, true
}

// unbind counts c as a connection without a credential again (its request
// carries none); it may pass the limit for the moment, as the connection
// closes after the answer.
func (s *Server) unbind(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gone || !c.credentialed {
		return
	}
	s.uncountLocked(c)
	c.elem = s.uncred.PushBack(c)
}

// refusedLocked counts a refusal and logs it once per key and limit per
// minute.
func (s *Server) refusedLocked(l Limit, key string) {
	s.refused[l]++
	shown := key
	if shown == "" {
		shown = "(none)"
	}
	if ok, as, skipped := s.refusals.note(shown, l, s.now()); ok {
		s.log.Warn().Str("limit", string(l)).Str("credential", as).Int("refused_since_last_line", skipped).
			Int("uncredentialed_conns", s.uncred.Len()).Int("credentialed_conns", s.cred).
			Msg("listener limit refused a connection")
	}
}

// serve is the limits' part of every request: the folded-header check, the
// credential, then the daemon's handler.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Context().Value(connKey{}).(*conn)
	if c != nil && c.folded.Load() {
		s.shorten(w)
		newRefusal(LimitHeaderFolding, 0).write(w, s.body)
		s.cutOff(w, c)
		return
	}
	cred, ok := s.identify(r)
	if !ok {
		if c != nil {
			s.unbind(c)
		}
		s.shorten(w)
		w.Header().Set("Connection", "close")
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, s.lim.MaxUncredentialedBodyBytes)
		}
		defer s.cutOff(w, c)
		s.next.ServeHTTP(w, r)
		return
	}
	if c != nil {
		if ref, ok := s.bind(c, cred.Key); !ok {
			s.shorten(w)
			ref.write(w, s.body)
			s.cutOff(w, c)
			return
		}
	}
	if s.lim.WriteTimeout == 0 {
		// A handler's write deadline from an earlier request on this
		// connection must not cut this one short.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	}
	s.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), credKey{}, cred)))
}

// cutOff ends reading a request the handler has answered and that closes
// its connection: Go's server would otherwise read up to 256 KiB of an
// unread body after the answer, holding the connection for a body its
// client may never send.
func (s *Server) cutOff(w http.ResponseWriter, c *conn) {
	if c == nil {
		return
	}
	s.mu.Lock()
	hijacked := c.state == http.StateHijacked
	s.mu.Unlock()
	if !hijacked {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

// shorten gives the rest of a request UncredentialedTimeout, reading and
// writing.
func (s *Server) shorten(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	dl := time.Now().Add(s.lim.UncredentialedTimeout)
	_ = rc.SetReadDeadline(dl)
	_ = rc.SetWriteDeadline(dl)
}

// debugWriter sends the HTTP server's own error lines to the log at debug
// level: they are about clients (bad TLS, resets), not the daemon.
type debugWriter struct{ log zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.log.Debug().Str("part", "http").Msg(string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
