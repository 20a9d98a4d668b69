package smarthttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/repos"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/tokens"
	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
)

// Realm is the HTTP Basic realm the gate asks for.
const Realm = "terok-gate"

// Authenticator maps a presented token to an identity.
type Authenticator interface {
	Lookup(tok string) (tokens.Identity, error)
}

// Repos is what the handler needs to know about repositories.
type Repos interface {
	Exists(name string) bool
	Dir(name string) string
	DefaultBranch(name string) string
}

// PushHook is told about the ref updates of a push that landed.
type PushHook func(project string, who tokens.Identity, updates []repos.RefUpdate)

// Handler serves git smart HTTP.
type Handler struct {
	Auth    Authenticator
	Repos   Repos
	Backend Backend
	// MaxRequestBytes bounds an upload-pack request body after gzip
	// decoding (wants and haves; 0: 64 MiB).
	MaxRequestBytes int64
	// MaxPushBytes bounds a receive-pack request body after gzip decoding
	// (0: 4 GiB).
	MaxPushBytes int64
	// BodyIdleTimeout ends a request whose body makes no progress for this
	// long (0: 2 minutes), so a stalled client does not hold a git process.
	BodyIdleTimeout time.Duration
	// Guard decides which ref updates a push may make and records what
	// landed; without one every push is refused.
	Guard PushGuard
	// AfterPush, when set, runs after each receive-pack that landed
	// updates, with those updates.
	AfterPush PushHook
}

var protoRE = regexp.MustCompile(`^[A-Za-z0-9=:._-]{0,256}$`)

// route is a parsed request path.
type route struct {
	project string
	rest    string // "info/refs", "git-upload-pack", "git-receive-pack", "HEAD"
}

// parsePath splits /<project>.git/<rest>. Any problem is a 400 error.
func parsePath(p string) (route, error) {
	if !strings.HasPrefix(p, "/") {
		return route{}, fmt.Errorf("path %q must start with /<project>.git/", p)
	}
	first, rest, ok := strings.Cut(p[1:], "/")
	name, isGit := strings.CutSuffix(first, ".git")
	if !ok || !isGit {
		return route{}, fmt.Errorf("path %q: use /<project>.git/…, e.g. git clone http://<token>@host:9418/<project>.git", truncate(p, 200))
	}
	if err := names.CheckProject(name); err != nil {
		return route{}, err
	}
	return route{project: name, rest: rest}, nil
}

// ServeHTTP implements http.Handler. The token is looked at first: a
// request without a valid one learns nothing else (not whether its path,
// method or repository exist) and its body is never read.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	line := httpmw.LineOf(r.Context())
	cw := &answerWriter{ResponseWriter: w, line: line}
	var entry accessEntry
	line.Add(entry.note)

	// r.URL.Path is already percent-decoded: %2e%2e arrives as "..", %00
	// as NUL, and both fail the name check before anything touches disk.
	rt, perr := parsePath(r.URL.Path)
	if perr == nil && (strings.Contains(r.URL.RawPath, "%2f") || strings.Contains(r.URL.RawPath, "%2F")) {
		perr = errors.New("encoded '/' in path")
	}
	id, err := h.identity(r)
	if err != nil {
		tok, pass, _ := r.BasicAuth()
		h.refuseAuth(cw, rt.project, tok, pass)
		return
	}
	entry.id = id
	if perr != nil {
		httpError(cw, http.StatusBadRequest, perr.Error())
		return
	}
	entry.project = rt.project
	var svc Service
	var allow string
	switch rt.rest {
	case "info/refs":
		allow = "GET"
		if r.Method != http.MethodGet {
			break
		}
		switch r.URL.Query().Get("service") {
		case "git-upload-pack":
			svc = UploadPack
		case "git-receive-pack":
			svc = ReceivePack
		default:
			httpError(cw, http.StatusBadRequest, "info/refs needs ?service=git-upload-pack or git-receive-pack; the gate speaks smart HTTP only")
			return
		}
	case "git-upload-pack":
		allow, svc = "POST", UploadPack
	case "git-receive-pack":
		allow, svc = "POST", ReceivePack
	case "HEAD":
		allow = "GET, HEAD"
	default:
		httpError(cw, http.StatusNotFound, fmt.Sprintf("no %s %s on %s.git", r.Method, truncate(rt.rest, 100), rt.project))
		return
	}
	if !slices.Contains(strings.Split(allow, ", "), r.Method) {
		cw.Header().Set("Allow", allow)
		httpError(cw, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", rt.rest, allow, truncate(r.Method, 40)))
		return
	}
	entry.service = string(svc)
	if id.Kind == tokens.KindTask && id.Project != rt.project {
		httpError(cw, http.StatusForbidden, fmt.Sprintf("this token is for project %s, not %s", id.Project, rt.project))
		return
	}
	if !h.Repos.Exists(rt.project) {
		httpError(cw, http.StatusNotFound, fmt.Sprintf("no repository %s on this gate", rt.project))
		return
	}
	dir := h.Repos.Dir(rt.project)

	proto := r.Header.Get("Git-Protocol")
	if !protoRE.MatchString(proto) {
		httpError(cw, http.StatusBadRequest, "bad Git-Protocol header")
		return
	}

	switch {
	case rt.rest == "HEAD":
		h.serveHEAD(cw, r, dir)
	case rt.rest == "info/refs":
		h.serveRefs(cw, r, dir, svc, proto)
	default:
		h.serveRPC(cw, r, rt.project, dir, svc, proto, id, &entry)
	}
}

// identity is who the request's token belongs to: what the listener's
// limits already looked up, else a lookup of the Basic user name.
func (h *Handler) identity(r *http.Request) (tokens.Identity, error) {
	if c, ok := listenlimit.CredentialOf(r); ok {
		if id, ok := c.Value.(tokens.Identity); ok {
			return id, nil
		}
	}
	tok, _, _ := r.BasicAuth()
	return h.Auth.Lookup(tok)
}

// Identify is the gate's credential for the listener's limits: a token the
// gate knows, from the Basic user name, counted per task token (by its
// id, never the secret) or as "admin".
func (h *Handler) Identify(r *http.Request) (listenlimit.Credential, bool) {
	tok, _, _ := r.BasicAuth()
	id, err := h.Auth.Lookup(tok)
	if err != nil {
		return listenlimit.Credential{}, false
	}
	key := "admin"
	if id.Kind == tokens.KindTask {
		key = "task-token:" + id.ID
	}
	return listenlimit.Credential{Key: key, Value: id}, true
}

// refuseAuth answers a request without a usable token. Without any
// credentials it is 401 with a Basic challenge, so git (or a credential
// helper) can supply the token. Credentials that do not open the gate are
// 403: git answers a 401 for a URL that already carries a user name by
// asking for a password ("could not read Password" without a terminal) and
// never shows the reason, while for 403 it prints the text/plain body as
// "remote: …" lines before its own error.
func (h *Handler) refuseAuth(w http.ResponseWriter, project, tok, pass string) {
	if project == "" {
		project = "<project>"
	}
	url := "http://<token>@<host>:9418/" + project + ".git"
	switch {
	case tok == "" && pass == "":
		w.Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`"`)
		httpError(w, http.StatusUnauthorized, "a gate token is required: use "+url)
	case tok == "":
		httpError(w, http.StatusForbidden, "the gate token goes in the user name, not the password: use "+url)
	default:
		httpError(w, http.StatusForbidden, "unknown or revoked gate token: a task token ends with its task "+
			"(terok-gate token list shows the live ones); mint a new one or use the admin token")
	}
}

func (h *Handler) serveHEAD(w http.ResponseWriter, r *http.Request, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "HEAD"))
	if err != nil {
		httpError(w, http.StatusInternalServerError, "read HEAD")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	noCache(w)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

func noCache(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	w.Header().Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	w.Header().Set("Pragma", "no-cache")
}

func (h *Handler) serveRefs(w *answerWriter, r *http.Request, dir string, svc Service, proto string) {
	var stderr capBuffer
	lw := h.newLazyWriter(w, "application/x-git-"+string(svc)+"-advertisement")
	if svc == ReceivePack || protocolVersion(proto) != 2 {
		var pre bytes.Buffer
		line := "# service=git-" + string(svc) + "\n"
		fmt.Fprintf(&pre, "%04x%s0000", len(line)+4, line)
		lw.prefix = pre.Bytes()
	}
	err := h.Backend.Serve(gitContext(r), Run{Dir: dir, Service: svc, Advertise: true, Protocol: proto}, lw, &stderr)
	if err != nil {
		h.fail(w, lw, err, &stderr, rpcBody{})
	}
}

// gitContext is the context git runs under: the request's values without
// its cancellation. Go's server cancels a request when its client closes
// the sending half of the connection, which a client may do once its
// request is complete; git stops anyway when the answer cannot be written
// (the client is gone) or the body cannot be read, and the server's
// Shutdown closes every connection.
func gitContext(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }

func (h *Handler) idle() time.Duration {
	if h.BodyIdleTimeout > 0 {
		return h.BodyIdleTimeout
	}
	return 2 * time.Minute
}

// rpcBody is the reader chain of one request body, for telling whose fault
// a failure was.
type rpcBody struct {
	raw *bodyReader    // the bytes off the wire: counted, deadline pushed per read
	lim *limitReader   // after gzip: the size limit
	src *errRecorder   // what the handler read: the first error of the body itself
	req *uploadRequest // upload-pack: the request's checks
}

func (h *Handler) serveRPC(w *answerWriter, r *http.Request, project, dir string, svc Service, proto string, id tokens.Identity, entry *accessEntry) {
	want := "application/x-git-" + string(svc) + "-request"
	if ct := r.Header.Get("Content-Type"); ct != want {
		httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type must be %s, not %q", want, ct))
		return
	}
	rc := http.NewResponseController(w.ResponseWriter)
	_ = rc.EnableFullDuplex()
	idle := h.idle()
	var rb rpcBody
	rb.raw = &bodyReader{r: r.Body, extend: func() { _ = rc.SetReadDeadline(time.Now().Add(idle)) }}
	entry.inCounter = rb.raw
	var in io.Reader = rb.raw
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rb.raw)
		if err != nil {
			if rb.raw.stalled() {
				httpError(w, http.StatusRequestTimeout, msgStalled)
				return
			}
			closeAfter(w)
			httpError(w, http.StatusBadRequest, "request body is not valid gzip: "+err.Error())
			return
		}
		defer zr.Close()
		in = zr
	default:
		httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not supported; use gzip or none", enc))
		return
	}
	limit := h.MaxRequestBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	if svc == ReceivePack {
		limit = h.MaxPushBytes
		if limit <= 0 {
			limit = 4 << 30
		}
	}
	rb.lim = &limitReader{r: in, left: limit}
	rb.src = &errRecorder{r: rb.lim}

	run := Run{Dir: dir, Service: svc, Protocol: proto}
	var ticket PushTicket
	if svc == UploadPack {
		rb.req = newUploadRequest(rb.src, proto)
		run.Stdin = rb.req
	} else {
		br := bufio.NewReaderSize(rb.src, 64<<10)
		var raw []byte
		var err error
		_, raw, err = readCommands(br)
		if err != nil {
			closeAfter(w)
			switch {
			case rb.raw.stalled():
				httpError(w, http.StatusRequestTimeout, msgStalled)
			case errors.Is(err, ErrTooLarge) || rb.lim.exceeded.Load():
				httpError(w, http.StatusRequestEntityTooLarge, err.Error())
			case rb.src.failed() != nil:
				httpError(w, http.StatusBadRequest, bodyErrorMessage(rb.src.failed()))
			default:
				httpError(w, http.StatusBadRequest, err.Error())
			}
			return
		}
		run.Stdin = io.MultiReader(bytes.NewReader(raw), br)
		ticket = h.beginPush(project, id, &run)
	}
	var stderr capBuffer
	// A body the gate refuses (over the limit, stalled, malformed, cut
	// off) is the gate's to answer: git's output about the input it got
	// is held back, so the client gets the same answer however the race
	// with git ends.
	lw := h.newLazyWriter(w, "application/x-git-"+string(svc)+"-result")
	lw.hold = func() bool { return rb.refused() != nil }
	err := h.Backend.Serve(gitContext(r), run, lw, &stderr)
	if err == nil {
		// git may end well on a body the gate refused part of: it saw
		// the body end early, which is a complete (empty) request to it.
		err = rb.refused()
	}
	// What landed is recorded whatever the client sees.
	h.finishPush(project, id, ticket)
	if err != nil {
		h.fail(w, lw, err, &stderr, rb)
		return
	}
}

// refused reports why the gate stopped passing the body on, nil when it
// did not.
func (rb rpcBody) refused() error {
	switch {
	case rb.lim != nil && rb.lim.exceeded.Load():
		return ErrTooLarge
	case rb.req != nil && rb.req.failed() != nil:
		return rb.req.failed()
	case rb.src != nil && rb.src.failed() != nil:
		return rb.src.failed()
	}
	return nil
}

const msgStalled = "request body stalled; the client sent nothing for too long"

// closeAfter ends the connection after the answer: the body may be unread.
func closeAfter(w http.ResponseWriter) { w.Header().Set("Connection", "close") }

// fail reports a backend failure: as an HTTP error when nothing was sent
// yet, else only in the log (the client sees the stream end). A 4xx names
// the client's mistake; a 500 means the gate or its git failed on its own
// (a bug, a broken repository, a full disk).
func (h *Handler) fail(w *answerWriter, lw *lazyWriter, err error, stderr *capBuffer, rb rpcBody) {
	msg := strings.TrimSpace(stderr.String())
	failure := err.Error()
	if msg != "" {
		failure += ": " + msg
	}
	w.line.Fail(truncate(failure, 500))
	if lw.started {
		return
	}
	status := http.StatusInternalServerError
	switch {
	case rb.lim != nil && rb.lim.exceeded.Load():
		status = http.StatusRequestEntityTooLarge
		msg = fmt.Sprintf("request body is larger than the gate's limit of %d bytes", rb.lim.limit())
	case rb.raw != nil && rb.raw.stalled():
		status = http.StatusRequestTimeout
		msg = msgStalled
	case rb.req != nil && rb.req.failed() != nil:
		status = http.StatusBadRequest
		msg = rb.req.failed().Error()
	case errors.Is(err, ErrMalformed):
		status = http.StatusBadRequest
		msg = err.Error()
	case rb.src != nil && rb.src.failed() != nil:
		status = http.StatusBadRequest
		msg = bodyErrorMessage(rb.src.failed())
	case errors.Is(err, context.Canceled):
		return
	default:
		if line, ok := clientFault(msg); ok {
			status = http.StatusBadRequest
			msg = "git refused the request: " + line
		} else {
			msg = "git failed on the gate's side; the gate's log has more"
		}
	}
	closeAfter(w)
	httpError(w, status, msg)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, "terok-gate: "+msg)
}

// lazyWriter sends the status and headers with the first byte of output,
// so a service that fails before writing can still answer with an error.
// Every write is flushed: pack data streams as git produces it. Each write
// gets the idle timeout as its deadline, so a client that stops reading
// does not hold git forever.
type lazyWriter struct {
	w           *answerWriter
	contentType string
	prefix      []byte
	started     bool
	// hold, when it reports true before the first byte, swallows the
	// output so the handler can answer with an error status instead.
	hold func() bool
	rc   *http.ResponseController
	idle time.Duration
}

func (h *Handler) newLazyWriter(w *answerWriter, contentType string) *lazyWriter {
	return &lazyWriter{w: w, contentType: contentType, rc: http.NewResponseController(w.ResponseWriter), idle: h.idle()}
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started && l.hold != nil && l.hold() {
		return len(p), nil
	}
	_ = l.rc.SetWriteDeadline(time.Now().Add(l.idle))
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.contentType)
		noCache(l.w)
		l.w.WriteHeader(http.StatusOK)
		if len(l.prefix) > 0 {
			if _, err := l.w.Write(l.prefix); err != nil {
				return 0, err
			}
		}
	}
	n, err := l.w.Write(p)
	if err == nil {
		l.w.Flush()
	}
	return n, err
}

// answerWriter is the answer of one request with its access line (nil
// when the handler is served without kit/httpmw), where a failure the
// client may not see is noted.
type answerWriter struct {
	http.ResponseWriter
	line *httpmw.Line
}

func (c *answerWriter) Flush() {
	_ = http.NewResponseController(c.ResponseWriter).Flush()
}

// bodyReader counts the raw request bytes and pushes the read deadline
// forward before every read.
type bodyReader struct {
	r      io.Reader
	n      int64
	extend func()
	mu     sync.Mutex
	err    error
}

// stalled reports whether the body ended in a read timeout.
func (b *bodyReader) stalled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ne net.Error
	return errors.As(b.err, &ne) && ne.Timeout()
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.extend != nil {
		b.extend()
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
	}
	return n, err
}

// limitReader fails with ErrTooLarge past its limit.
type limitReader struct {
	r        io.Reader
	left     int64
	read     int64
	exceeded atomic.Bool
}

func (l *limitReader) limit() int64 { return l.left + l.read }

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells a body of exactly the limit from a bigger one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.exceeded.Store(true)
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	l.read += int64(n)
	return n, err
}

// capBuffer keeps the first 16 KiB of a stream (git's stderr).
type capBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := 16<<10 - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// accessEntry is what the handler learns of a request for its access
// line (kit/httpmw writes method, path, status, bytes and duration).
type accessEntry struct {
	project, service string
	id               tokens.Identity
	inCounter        *bodyReader
}

// note adds the entry to the access line: the project, the service, the
// token's kind (a task token by its id and task, never the token) and
// the request bytes read.
func (e *accessEntry) note(ev *zerolog.Event) {
	if e.project != "" {
		ev.Str("project", e.project)
	}
	if e.service != "" {
		ev.Str("service", "git-"+e.service)
	}
	switch e.id.Kind {
	case tokens.KindAdmin:
		ev.Str("token", "admin")
	case tokens.KindTask:
		ev.Str("token", "task").Str("token_id", e.id.ID).Str("task", e.id.Task)
	default:
		ev.Str("token", "none")
	}
	if e.inCounter != nil {
		ev.Int64("bytes_in", e.inCounter.n)
	}
}
