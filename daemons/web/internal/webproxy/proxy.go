package webproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Lookup maps a task id to the host port its web UI is published on;
// false when the task has none (unknown, not web-mode, or ended). The
// Allocator is one.
type Lookup interface {
	HostPort(taskID string) (int, bool)
}

// Options tune the proxy.
type Options struct {
	// PublicURL is TEROK_PUBLIC_URL, the address browsers use for terok
	// (e.g. https://example.org/terok). Its path is the prefix of every
	// link the proxy hands out; its scheme and host are what the task's
	// app sees in X-Forwarded-Proto and X-Forwarded-Host. Empty: the
	// request's own.
	PublicURL string
	// TargetHost is where the published ports listen (default 127.0.0.1;
	// rootless Podman forwards loopback connections).
	TargetHost string
	// DropCookies names terok's own cookies (its access token): they are
	// removed from requests before they reach a task, and a task's
	// responses may not set them. The Authorization header is always
	// removed.
	DropCookies []string
	// DropQuery names query parameters that carry terok's token (e.g.
	// "token", which terok-web accepts on WebSocket upgrades): they are
	// removed before a request reaches a task.
	DropQuery []string
	// Log receives proxy failures (zero value: nothing logged).
	Log zerolog.Logger
}

// Proxy serves <prefix>/tasks/<id>/ui/... from the task's published web
// port: HTTP and WebSocket (the Upgrade is passed through), the path
// below ui/ forwarded as the app's own path.
type Proxy struct {
	lookup Lookup
	o      Options
	prefix string // PublicURL's path without a trailing slash, "" for none
	pubURL *url.URL
	rp     *httputil.ReverseProxy
}

// New returns the proxy. Mount it for "/tasks/" (and, when the outer
// reverse proxy keeps the path prefix, for "<prefix>/tasks/" too): it
// accepts paths with and without PublicURL's prefix.
func New(lookup Lookup, o Options) (*Proxy, error) {
	p := &Proxy{lookup: lookup, o: o}
	if p.o.TargetHost == "" {
		p.o.TargetHost = "127.0.0.1"
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: TEROK_PUBLIC_URL %q: give an absolute http:// or https:// URL, e.g. https://terok.example.org/terok", ErrBadPublicURL, o.PublicURL)
		}
		p.pubURL = u
		p.prefix = strings.TrimRight(u.EscapedPath(), "/")
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		FlushInterval:  -1, // server-sent events and streamed output at once
	}
	return p, nil
}

// UIPath returns the path browsers use for taskID's UI, with PublicURL's
// prefix: "<prefix>/tasks/<id>/ui/".
func (p *Proxy) UIPath(taskID string) string {
	return p.prefix + "/tasks/" + url.PathEscape(taskID) + "/ui/"
}

type targetKey struct{}

type target struct {
	task string
	port int
	path string // escaped path below ui, starting with "/"
}

// ServeHTTP proxies one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep := r.URL.EscapedPath()
	if p.prefix != "" && strings.HasPrefix(ep, p.prefix+"/") {
		ep = ep[len(p.prefix):]
	}
	rest, ok := strings.CutPrefix(ep, "/tasks/")
	if !ok {
		unixhttp.WriteError(w, http.StatusNotFound, fmt.Errorf("no task UI at %s: task UIs live at %s", r.URL.Path, p.UIPath("ID")))
		return
	}
	rawID, sub, _ := strings.Cut(rest, "/")
	id, err := url.PathUnescape(rawID)
	if err != nil || id == "" {
		unixhttp.WriteError(w, http.StatusNotFound, fmt.Errorf("no task UI at %s: task UIs live at %s", r.URL.Path, p.UIPath("ID")))
		return
	}
	below, ok := strings.CutPrefix(sub, "ui")
	if !ok || (below != "" && below[0] != '/') {
		unixhttp.WriteError(w, http.StatusNotFound, fmt.Errorf("no task UI at %s: task %s's UI is at %s", r.URL.Path, id, p.UIPath(id)))
		return
	}
	if below == "" {
		// Relative links in the app only resolve below ui/.
		loc := p.UIPath(id)
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, loc, http.StatusPermanentRedirect)
		return
	}
	port, ok := p.lookup.HostPort(id)
	if !ok {
		unixhttp.WriteError(w, http.StatusNotFound, fmt.Errorf("task %s has no web UI: it is unknown, not a web-mode task, or it has ended", id))
		return
	}
	ctx := context.WithValue(r.Context(), targetKey{}, target{task: id, port: port, path: below})
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite builds the request to the task: its path below ui/, the
// forwarding headers, without terok's credentials.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(targetKey{}).(target)
	out := pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = net.JoinHostPort(p.o.TargetHost, strconv.Itoa(t.port))
	out.Host = out.URL.Host
	if path, err := url.PathUnescape(t.path); err == nil {
		out.URL.Path, out.URL.RawPath = path, t.path
		if out.URL.EscapedPath() == path {
			out.URL.RawPath = ""
		}
	}
	out.URL.RawQuery = p.dropQuery(pr.In.URL.RawQuery)
	pr.SetXForwarded()
	if p.pubURL != nil {
		out.Header.Set("X-Forwarded-Host", p.pubURL.Host)
		out.Header.Set("X-Forwarded-Proto", p.pubURL.Scheme)
	}
	out.Header.Set("X-Forwarded-Prefix", strings.TrimSuffix(p.UIPath(t.task), "/"))
	out.Header.Del("Authorization")
	p.dropCookies(out)
}

// dropQuery removes DropQuery's parameters, leaving the rest as sent.
func (p *Proxy) dropQuery(raw string) string {
	if raw == "" || len(p.o.DropQuery) == 0 {
		return raw
	}
	parts := strings.Split(raw, "&")
	keep := parts[:0]
	for _, part := range parts {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && slices.Contains(p.o.DropQuery, n) {
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, "&")
}

func (p *Proxy) dropCookies(r *http.Request) {
	if len(p.o.DropCookies) == 0 || r.Header.Get("Cookie") == "" {
		return
	}
	var keep []string
	for _, c := range r.Cookies() {
		if !p.isTerokCookie(c.Name) {
			keep = append(keep, c.String())
		}
	}
	r.Header.Del("Cookie")
	if len(keep) > 0 {
		r.Header.Set("Cookie", strings.Join(keep, "; "))
	}
}

// modifyResponse keeps the app's redirects inside its UI path: a Location
// pointing at the app's own root ("/x", or http://127.0.0.1:port/x) is
// moved below <prefix>/tasks/<id>/ui/.
//
// The app's cookies are kept to its UI path (Path set below it, Domain
// removed), and it may not set terok's own (DropCookies): a task cannot
// overwrite or shadow terok's login.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	t := resp.Request.Context().Value(targetKey{}).(target)
	ui := p.UIPath(t.task)
	p.confineCookies(resp, ui)
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil
	}
	if u.IsAbs() {
		if u.Host != resp.Request.URL.Host {
			return nil // elsewhere: leave it
		}
		u.Scheme, u.Host = "", ""
	}
	if !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, ui) || u.Path+"/" == ui {
		resp.Header.Set("Location", u.String())
		return nil // relative, or already prefix-aware
	}
	u.Path = strings.TrimSuffix(ui, "/") + u.Path
	u.RawPath = ""
	resp.Header.Set("Location", u.String())
	return nil
}

// confineCookies rewrites the app's Set-Cookie headers to stay below ui.
func (p *Proxy) confineCookies(resp *http.Response, ui string) {
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) == 0 {
		return
	}
	resp.Header.Del("Set-Cookie")
	for _, line := range lines {
		c, err := http.ParseSetCookie(line)
		if err != nil || p.isTerokCookie(c.Name) {
			continue
		}
		c.Domain = ""
		if c.Path == "" || c.Path == "/" {
			c.Path = strings.TrimSuffix(ui, "/")
		} else if !strings.HasPrefix(c.Path, strings.TrimSuffix(ui, "/")) {
			c.Path = strings.TrimSuffix(ui, "/") + c.Path
		}
		if v := c.String(); v != "" {
			resp.Header.Add("Set-Cookie", v)
		}
	}
}

func (p *Proxy) isTerokCookie(name string) bool { return slices.Contains(p.o.DropCookies, name) }

// errorHandler answers a task UI that does not answer with a message the
// user can act on.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	t := r.Context().Value(targetKey{}).(target)
	if errors.Is(err, context.Canceled) {
		return // the browser left
	}
	p.o.Log.Debug().Err(err).Str("task", t.task).Int("port", t.port).Msg("webproxy: task UI did not answer")
	unixhttp.WriteError(w, http.StatusBadGateway, fmt.Errorf(
		"task %s's web UI does not answer on port %d (is the agent listening on the project's run.web_port? it may still be starting): %v",
		t.task, t.port, err))
}
