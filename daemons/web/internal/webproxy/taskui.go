package webproxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

// Dialer opens connections to a task's app (package nsdial through the
// runner) and forgets a task whose UI is gone.
type Dialer interface {
	DialTask(ctx context.Context, taskID string) (net.Conn, error)
	ForgetTask(taskID string)
}

// Grant lifetimes and bounds.
const (
	DefaultGrantTTL = 12 * time.Hour
	maxGrants       = 256
)

// GrantCookie is the name of the cookie a task listener on port sets,
// for terok instance.
func GrantCookie(instance string, port int) string {
	return auth.CookiePrefix + "ui_" + instance + "_" + strconv.Itoa(port)
}

// taskUI serves one task's listener.
type taskUI struct {
	task string
	port int
	p    *Publisher
	rp   *httputil.ReverseProxy
	tr   *http.Transport

	mu     sync.Mutex
	grants map[string]grant
}

type grant struct {
	parent  string
	expires time.Time
}

type reqKey struct{}

func newTaskUI(p *Publisher, task string, port int) *taskUI {
	u := &taskUI{task: task, port: port, p: p, grants: map[string]grant{}}
	u.tr = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return p.o.Dialer.DialTask(ctx, task)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		// The app speaks HTTP/1.1 on loopback; no TLS, no HTTP/2.
		ForceAttemptHTTP2: false,
	}
	u.rp = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      u.tr,
		ModifyResponse: u.modifyResponse,
		ErrorHandler:   u.errorHandler,
		FlushInterval:  -1,
	}
	return u
}

func (u *taskUI) cookieName() string { return GrantCookie(u.p.o.Instance, u.port) }

// ServeHTTP checks the request and proxies it to the app.
func (u *taskUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if q := r.URL.Query(); q.Has(TicketParam) {
		u.redeem(w, r, q)
		return
	}
	if !u.granted(r) {
		u.page(w, r, http.StatusUnauthorized, "This is the web UI of terok task "+u.task+".",
			"It opens from terok's task page, which gives your browser a one-time link; this browser has none for it (or it has run out).")
		return
	}
	// Another origin's page (another task's UI: same site, other port)
	// may navigate here, not fetch or post.
	if auth.CrossSite(r) && !(r.Header.Get("Sec-Fetch-Mode") == "navigate" && (r.Method == http.MethodGet || r.Method == http.MethodHead)) {
		http.Error(w, "terok: a page of another origin may only open this task's UI, not call it", http.StatusForbidden)
		return
	}
	if (r.Method != http.MethodGet && r.Method != http.MethodHead || isUpgrade(r)) && !auth.SameOrigin(r) {
		http.Error(w, "terok: requests to this task's UI from another origin are refused", http.StatusForbidden)
		return
	}
	if r.Header.Get("Service-Worker") != "" {
		http.Error(w, "terok: service workers are refused on task UIs (the port goes to other tasks later)", http.StatusForbidden)
		return
	}
	u.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqKey{}, r)))
}

// identify is the listener limits' check of a request, from its headers
// alone: a live ticket of this task or a live grant counts the request
// under TaskUIKey. A request another origin's page makes counts as
// without one (it is refused below unless it navigates), so another
// task's page cannot hold this task's connections.
func (u *taskUI) identify(r *http.Request) (listenlimit.Credential, bool) {
	if auth.CrossSite(r) && !(r.Header.Get("Sec-Fetch-Mode") == "navigate" && (r.Method == http.MethodGet || r.Method == http.MethodHead)) {
		return listenlimit.Credential{}, false
	}
	if r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, TicketParam) {
		if u.p.o.Tickets.Live(r.URL.Query().Get(TicketParam), u.task) {
			return listenlimit.Credential{Key: TaskUIKey(u.task)}, true
		}
	}
	if u.granted(r) {
		return listenlimit.Credential{Key: TaskUIKey(u.task)}, true
	}
	return listenlimit.Credential{}, false
}

func isUpgrade(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// redeem swaps a ticket for the listener's cookie and sends the browser
// to the same address without it.
func (u *taskUI) redeem(w http.ResponseWriter, r *http.Request, q url.Values) {
	first := !u.granted(r)
	parent, ok := u.p.o.Tickets.Redeem(q.Get(TicketParam), u.task)
	if !ok {
		u.page(w, r, http.StatusUnauthorized, "This link to task "+u.task+"'s web UI has been used or has run out.",
			"Links from terok's task page work once, for a minute: open the UI again from there.")
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	v := base64.RawURLEncoding.EncodeToString(raw)
	ttl := u.p.o.GrantTTL
	u.mu.Lock()
	now := u.p.now()
	for h, g := range u.grants {
		if !now.Before(g.expires) {
			delete(u.grants, h)
		}
	}
	for len(u.grants) >= maxGrants {
		var first string
		for h, g := range u.grants {
			if first == "" || g.expires.Before(u.grants[first].expires) {
				first = h
			}
		}
		delete(u.grants, first)
	}
	u.grants[grantHash(v)] = grant{parent: parent, expires: now.Add(ttl)}
	u.mu.Unlock()
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	http.SetCookie(w, &http.Cookie{Name: u.cookieName(), Value: v, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
	if first {
		// This browser meets this task here for the first time: what an
		// earlier task on the port left (storage, service workers, cache)
		// goes. Browsers honour it on secure origins (https, localhost).
		w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
	}
	q.Del(TicketParam)
	// A path of this origin only: "//host/..." would send the browser
	// elsewhere.
	dest := "/" + strings.TrimLeft(r.URL.EscapedPath(), "/\\")
	if len(q) > 0 {
		dest += "?" + q.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

func grantHash(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// granted reports whether r carries a live grant of this listener.
func (u *taskUI) granted(r *http.Request) bool {
	for _, c := range r.Cookies() {
		if c.Name != u.cookieName() {
			continue
		}
		u.mu.Lock()
		g, ok := u.grants[grantHash(c.Value)]
		u.mu.Unlock()
		if !ok || !u.p.now().Before(g.expires) {
			continue
		}
		if g.parent != "" && (u.p.o.SessionAlive == nil || !u.p.o.SessionAlive(g.parent)) {
			continue // the terok login it came from has ended
		}
		return true
	}
	return false
}

// page answers with a short page that links to terok's task page.
func (u *taskUI) page(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	link := u.p.o.Addresses.TaskPage(r, u.task)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>terok task %s</title><body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>%s</h1><p>%s</p><p><a href="%s" target="_top">Open task %s in terok</a></p></body>
`, html.EscapeString(u.task), html.EscapeString(title), html.EscapeString(text), html.EscapeString(link), html.EscapeString(u.task))
}

// rewrite builds the request to the app: the browser's path, query and
// Host (the app serves at its own origin's root), without terok's
// cookies.
func (u *taskUI) rewrite(pr *httputil.ProxyRequest) {
	out := pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = "task-" + u.task // the transport dials the task whatever the host
	out.Host = pr.In.Host
	pr.SetXForwarded()
	if strings.EqualFold(pr.In.Header.Get("X-Forwarded-Proto"), "https") {
		out.Header.Set("X-Forwarded-Proto", "https")
	}
	dropTerokCookies(out)
}

// dropTerokCookies removes every terok cookie (any instance's session,
// any task's grant) from a request.
func dropTerokCookies(r *http.Request) {
	if r.Header.Get("Cookie") == "" {
		return
	}
	var keep []string
	for _, line := range r.Header.Values("Cookie") {
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || isTerokCookie(name) {
				continue
			}
			keep = append(keep, part)
		}
	}
	r.Header.Del("Cookie")
	if len(keep) > 0 {
		r.Header.Set("Cookie", strings.Join(keep, "; "))
	}
}

// isTerokCookie reports whether name is (or poses as) one of terok's.
func isTerokCookie(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.TrimPrefix(strings.TrimPrefix(n, "__host-"), "__secure-")
	return strings.HasPrefix(n, auth.CookiePrefix)
}

// stripped are headers an app may not send to the browser.
var stripped = []string{"Service-Worker-Allowed", "Clear-Site-Data", "Strict-Transport-Security"}

// modifyResponse removes what the app may not do and adds who may embed
// it.
func (u *taskUI) modifyResponse(resp *http.Response) error {
	for _, h := range stripped {
		resp.Header.Del(h)
	}
	if lines := resp.Header.Values("Set-Cookie"); len(lines) > 0 {
		resp.Header.Del("Set-Cookie")
		for _, line := range lines {
			c, err := http.ParseSetCookie(line)
			if err != nil || isTerokCookie(c.Name) {
				continue
			}
			c.Domain = "" // host-only: never the parent domain's other sites
			if v := c.String(); v != "" {
				resp.Header.Add("Set-Cookie", v)
			}
		}
	}
	in, _ := resp.Request.Context().Value(reqKey{}).(*http.Request)
	ancestors := append([]string{"'self'"}, u.p.o.Addresses.TerokOrigins(in)...)
	resp.Header.Add("Content-Security-Policy", "frame-ancestors "+strings.Join(ancestors, " "))
	return nil
}

// errorHandler answers an app that does not answer with what to do.
func (u *taskUI) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the browser left
	}
	u.p.o.Log.Debug().Err(err).Str("task", u.task).Int("port", u.port).Msg("task UI did not answer")
	u.page(w, r, http.StatusBadGateway, "Task "+u.task+"'s web UI does not answer.",
		"Is the agent listening on the project's run.web_port? It may still be starting. ("+err.Error()+")")
}

// forget drops every grant (the task's UI closes).
func (u *taskUI) forget() {
	u.mu.Lock()
	u.grants = map[string]grant{}
	u.mu.Unlock()
	u.tr.CloseIdleConnections()
}
