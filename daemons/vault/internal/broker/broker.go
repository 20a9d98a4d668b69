package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/phantoms"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// Providers finds a provider by name.
type Providers interface {
	Get(name string) (*providers.Provider, error)
	Names() []string
}

// Phantoms finds the phantom a token is.
type Phantoms interface {
	Lookup(token string) (phantoms.Phantom, bool)
}

// Credentials gives the real credential of provider p for project (the
// project's own, else the global one) and the header it goes in. It
// answers ErrNoCredential or ErrLoginExpired when there is none to use.
type Credentials interface {
	Credential(ctx context.Context, p *providers.Provider, project string) (providers.Header, string, error)
}

// Auditor records a task's requests.
type Auditor interface {
	Record(project, task string, e vaultapi.AuditEntry)
}

// Options build a Broker.
type Options struct {
	Providers   Providers
	Phantoms    Phantoms
	Credentials Credentials
	Audit       Auditor
	Log         zerolog.Logger
	Limits      config.Limits
	// RootCAs verifies upstreams (nil: the system's).
	RootCAs *x509.CertPool
}

// Broker is the credential broker's HTTP handler.
type Broker struct {
	o         Options
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	// strip are the request headers that may carry a credential; every
	// one is removed before the real one goes in.
	strip []string
}

// alwaysStrip are credential-carrying headers no upstream gets from a
// task, whatever the provider.
var alwaysStrip = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "X-Goog-Api-Key",
	"Cookie", "Cookie2", "X-Auth-Token", "X-Amz-Security-Token"}

type ctxKey struct{}

// target is what the checks decided, handed to the proxy's Rewrite.
type target struct {
	upstream *url.URL
	path     string
	query    string
	header   providers.Header
	cred     string
	phantom  string
}

// New builds the broker with its upstream transport (verified TLS, HTTP/2
// where the upstream speaks it, proxies from the environment).
func New(o Options) *Broker {
	l := o.Limits
	dialer := &net.Dialer{Timeout: l.DialTimeout.D(), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   l.TLSHandshakeTimeout.D(),
		ResponseHeaderTimeout: l.UpstreamHeaderTimeout.D(),
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   32,
	}
	b := &Broker{o: o, transport: tr}
	seen := map[string]bool{}
	add := func(h string) {
		h = http.CanonicalHeaderKey(h)
		if h != "" && !seen[h] {
			seen[h] = true
			b.strip = append(b.strip, h)
		}
	}
	for _, h := range alwaysStrip {
		add(h)
	}
	for _, n := range o.Providers.Names() {
		if p, err := o.Providers.Get(n); err == nil {
			add(p.Inject.Name)
			for _, a := range p.Accept {
				add(a.Name)
			}
			if p.Login != nil {
				add(p.Login.Inject.Name)
			}
		}
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite:        b.rewrite,
		Transport:      tr,
		FlushInterval:  -1,
		ModifyResponse: func(r *http.Response) error { r.Header.Del("Set-Cookie"); return nil },
		ErrorHandler:   b.upstreamError,
		ErrorLog:       stdLog(o.Log),
	}
	return b
}

// CloseIdle drops idle upstream connections.
func (b *Broker) CloseIdle() { b.transport.CloseIdleConnections() }

func (b *Broker) rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(ctxKey{}).(*target)
	out := pr.Out
	out.URL.Scheme = "https"
	out.URL.Host = t.upstream.Host
	out.URL.Path = t.upstream.Path + t.path
	out.URL.RawPath = ""
	out.URL.RawQuery = t.query
	out.Host = t.upstream.Host
	for _, h := range b.strip {
		out.Header.Del(h)
	}
	// The phantom goes nowhere but here, whatever header the agent put it
	// in.
	for name, vals := range out.Header {
		for _, v := range vals {
			if strings.Contains(v, t.phantom) {
				out.Header.Del(name)
				break
			}
		}
	}
	out.Header.Set(t.header.Name, t.header.Value(t.cred))
}

// refusal is the broker's own answer to a request it does not forward.
type refusal struct {
	status        int
	why, msg, how string
}

func (b *Broker) refuse(w http.ResponseWriter, rf refusal) {
	unixhttp.WriteErrorDetail(w, rf.status, rf.msg, rf.how)
}

// ServeHTTP checks, rewrites, forwards and audits one request.
func (b *Broker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body := &countingBody{ReadCloser: r.Body}
	w := &countingWriter{ResponseWriter: rw, in: &body.n}
	r.Body = body
	prov, ph, tok, rf := b.check(r)
	entry := vaultapi.AuditEntry{Time: start.UTC(), Method: r.Method}
	if prov != nil {
		entry.Provider = prov.Name
	}
	if rf == nil {
		entry.Phantom = ph.ID
		rf = b.forward(w, r, prov, ph, tok, &entry)
	} else {
		b.refuse(w, *rf)
	}
	if rf != nil {
		entry.Refused = rf.why
	}
	entry.Status = w.status()
	entry.BytesIn = body.n.Load()
	entry.BytesOut = atomic.LoadInt64(&w.n)
	entry.Millis = time.Since(start).Milliseconds()
	if entry.Path == "" {
		entry.Path = auditPath(r)
	}
	line := httpmw.LineOf(r.Context())
	line.Add(func(e *zerolog.Event) {
		e.Str("provider", entry.Provider).Str("task", ph.Task).Str("refused", entry.Refused)
	})
	if ph.Task == "" {
		// No task to file it under: the daemon's access line has it
		// (never a header value), at warn level.
		line.Fail("broker refused a request of no known task")
		return
	}
	b.o.Audit.Record(ph.Project, ph.Task, entry)
}

// auditPath is the path as received, bounded, for a request refused
// before its path was checked.
func auditPath(r *http.Request) string {
	p := r.URL.Path
	if len(p) > 256 {
		p = p[:256] + "…"
	}
	return p
}

// PhantomKeyPrefix + a phantom's id is the credential key the broker's
// listener limits count a request with a valid phantom under (the id,
// never the token).
const PhantomKeyPrefix = "phantom:"

// Identify is the broker listener's credential check (kit/listenlimit),
// from the request's line and headers alone: a phantom the request may
// use (live, this provider's, bound to its upstream) counts the request
// under PhantomKeyPrefix + its id. The route is checked after.
func (b *Broker) Identify(r *http.Request) (listenlimit.Credential, bool) {
	_, ph, _, _, rf := b.phantom(r)
	if rf != nil {
		return listenlimit.Credential{}, false
	}
	return listenlimit.Credential{Key: PhantomKeyPrefix + ph.ID}, true
}

// check decides whether r may be forwarded: its provider, its phantom
// (live, this provider's, bound to its upstream), its route.
func (b *Broker) check(r *http.Request) (prov *providers.Provider, ph phantoms.Phantom, tok string, rf *refusal) {
	prov, ph, tok, rest, rf := b.phantom(r)
	if rf != nil {
		return prov, ph, "", rf
	}
	if _, ok := prov.Allowed(r.Method, rest); !ok || !ph.Allowed(r.Method, rest) {
		return prov, ph, "", &refusal{http.StatusForbidden, "route",
			fmt.Sprintf("%s %s is not a route of provider %s", r.Method, rest, prov.Name),
			"the provider allows: " + routeList(prov)}
	}
	return prov, ph, tok, nil
}

// phantom finds r's provider and its phantom, and checks that the phantom
// is live, the provider's, and bound to its upstream.
func (b *Broker) phantom(r *http.Request) (prov *providers.Provider, ph phantoms.Phantom, tok, rest string, rf *refusal) {
	name, rest, err := splitPath(r)
	if err != nil {
		return nil, ph, "", "", &refusal{http.StatusBadRequest, "path", err.Error(), "send the provider's own paths under http://<broker>/<provider>/"}
	}
	prov, err = b.o.Providers.Get(name)
	if err != nil {
		return nil, ph, "", rest, &refusal{http.StatusNotFound, "provider", fmt.Sprintf("no provider %q at this broker", name),
			"use http://<broker>/<provider>/… with one of: " + strings.Join(b.o.Providers.Names(), ", ")}
	}
	tok = findPhantom(r, prov)
	if tok == "" {
		return prov, ph, "", rest, &refusal{http.StatusUnauthorized, "no phantom", "no phantom token in the request",
			"send the task's phantom for " + prov.Name + " where its clients send a key: " + places(prov)}
	}
	ph, ok := b.o.Phantoms.Lookup(tok)
	switch {
	case !ok:
		return prov, ph, "", rest, &refusal{http.StatusUnauthorized, "unknown phantom", "unknown phantom token",
			"only a phantom minted by this vault for a running task is accepted"}
	case !ph.Live():
		return prov, ph, "", rest, &refusal{http.StatusUnauthorized, "revoked", "phantom token revoked: its task ended",
			"a task's phantoms end with the task; a new task gets new ones"}
	case ph.Provider != prov.Name:
		return prov, ph, "", rest, &refusal{http.StatusUnauthorized, "foreign phantom",
			fmt.Sprintf("this phantom token belongs to provider %s, not %s", ph.Provider, prov.Name),
			"send each provider its own phantom, under its own path (/" + ph.Provider + "/…)"}
	case ph.Upstream != prov.Upstream.String():
		return prov, ph, "", rest, &refusal{http.StatusUnauthorized, "upstream changed",
			fmt.Sprintf("this phantom was minted for %s, and provider %s now forwards to %s", ph.Upstream, prov.Name, prov.Upstream),
			"the provider file changed while the task ran; start the task again"}
	}
	return prov, ph, tok, rest, nil
}

// forward sends an admitted request upstream. It returns a refusal when
// it answered itself (no credential, body too large).
func (b *Broker) forward(w *countingWriter, r *http.Request, prov *providers.Provider, ph phantoms.Phantom, tok string, entry *vaultapi.AuditEntry) *refusal {
	_, rest, _ := splitPath(r)
	entry.Path = rest
	if r.ContentLength > b.o.Limits.MaxRequestBytes {
		rf := refusal{http.StatusRequestEntityTooLarge, "too large",
			fmt.Sprintf("request body of %d bytes is larger than the broker's limit of %d", r.ContentLength, b.o.Limits.MaxRequestBytes), ""}
		b.refuse(w, rf)
		return &rf
	}
	r.Body = http.MaxBytesReader(w, r.Body, b.o.Limits.MaxRequestBytes)
	hdr, cred, err := b.o.Credentials.Credential(r.Context(), prov, ph.Project)
	if err != nil {
		rf := refusal{http.StatusUnauthorized, "no credential", err.Error(),
			"set one with: terok-vault secret set " + prov.Name + " [--project " + ph.Project + "]"}
		switch {
		case errors.Is(err, ErrLoginExpired):
			rf.why, rf.how = "login expired", "log in again with: terok-vault secret login "+prov.Name
		case !errors.Is(err, ErrNoCredential):
			rf.status, rf.why, rf.how = http.StatusBadGateway, "credential", "the vault's log has more; try again"
		}
		b.refuse(w, rf)
		return &rf
	}
	// prov.Upstream is the phantom's own (check made sure).
	t := &target{upstream: prov.Upstream, path: rest, query: cleanQuery(r, prov), header: hdr, cred: cred, phantom: tok}
	b.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t)))
	return nil
}

// upstreamError answers when the upstream could not be reached or the
// request body broke off.
func (b *Broker) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		unixhttp.WriteErrorDetail(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than the broker's limit of %d bytes", mbe.Limit), "")
		return
	}
	if errors.Is(err, context.Canceled) {
		w.WriteHeader(499) // the agent went away; nobody reads this
		return
	}
	t := r.Context().Value(ctxKey{}).(*target)
	b.o.Log.Warn().Err(err).Str("upstream", t.upstream.Host).Str("path", t.path).Msg("upstream did not answer")
	unixhttp.WriteErrorDetail(w, http.StatusBadGateway, "the provider's upstream "+t.upstream.Host+" did not answer: "+errText(err),
		"the vault's log has the details")
}

// errText is an upstream error without anything from the request.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// splitPath returns the provider name and the path below it, refusing a
// path that is not in clean form (dot segments, empty segments, an
// escaped slash), so that what is checked is what is forwarded.
func splitPath(r *http.Request) (name, rest string, err error) {
	p := r.URL.Path
	if raw := r.URL.RawPath; raw != "" && (strings.Contains(strings.ToLower(raw), "%2f") || strings.Contains(raw, "%5c") || strings.Contains(raw, "%5C")) {
		return "", "", errors.New("an escaped '/' or '\\' in the path is refused")
	}
	if !strings.HasPrefix(p, "/") {
		return "", "", errors.New("the path must start with '/'")
	}
	name, rest, _ = strings.Cut(p[1:], "/")
	rest = "/" + rest
	for _, seg := range strings.Split(rest[1:], "/") {
		if seg == "." || seg == ".." || seg == "" && rest != "/" {
			return "", "", fmt.Errorf("path %q is not in clean form (empty, '.' or '..' segments)", truncate(p))
		}
	}
	for _, c := range p {
		if c < 0x21 || c == 0x7f || c == '\\' {
			return "", "", errors.New("the path holds a control character, a space or a backslash")
		}
	}
	return name, rest, nil
}

func truncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// findPhantom returns the token the request carries in one of the
// provider's places, in their order.
func findPhantom(r *http.Request, p *providers.Provider) string {
	for _, pl := range p.Accept {
		if pl.Query != "" {
			if v := r.URL.Query().Get(pl.Query); v != "" {
				return v
			}
			continue
		}
		for _, v := range r.Header.Values(pl.Name) {
			if tok, ok := pl.Take(v); ok {
				return tok
			}
		}
	}
	return ""
}

// cleanQuery is the query without the provider's key parameters.
func cleanQuery(r *http.Request, p *providers.Provider) string {
	q := r.URL.RawQuery
	drop := false
	for _, pl := range p.Accept {
		if pl.Query != "" {
			drop = true
		}
	}
	if !drop || q == "" {
		return q
	}
	v := r.URL.Query()
	for _, pl := range p.Accept {
		if pl.Query != "" {
			v.Del(pl.Query)
		}
	}
	return v.Encode()
}

func places(p *providers.Provider) string {
	var out []string
	for _, pl := range p.Accept {
		if pl.Query != "" {
			out = append(out, "query parameter "+pl.Query)
		} else {
			out = append(out, "header "+pl.String())
		}
	}
	return strings.Join(out, ", ")
}

func routeList(p *providers.Provider) string {
	out := make([]string, len(p.Routes))
	for i, r := range p.Routes {
		out[i] = r.String()
	}
	return strings.Join(out, "; ")
}

// countingWriter counts the body bytes and keeps the status written. It
// unwraps for http.ResponseController (flushes, the WebSocket hijack).
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
	in   *atomic.Int64 // the request body's count, for a hijacked connection
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 || c.code < 200 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	atomic.AddInt64(&c.n, int64(n))
	return n, err
}

// Hijack hands the connection over (a WebSocket upgrade), still counting
// what passes.
func (c *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(c.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	c.code = http.StatusSwitchingProtocols
	cc := &countingConn{Conn: conn, out: &c.n, in: c.in}
	return cc, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(cc)), nil
}

// countingConn counts the bytes of a hijacked connection.
type countingConn struct {
	net.Conn
	out *int64
	in  *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	atomic.AddInt64(c.out, int64(n))
	return n, err
}

// Unwrap returns the writer below.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}

// countingBody counts the request body bytes read.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n.Add(int64(n))
	return n, err
}
