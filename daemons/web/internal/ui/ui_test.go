package ui

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

const tok = "0123456789abcdef-ui-token"

type fixture struct {
	*UI
	sessions *auth.Sessions
	lim      *auth.Limiter
}

func newUI(t *testing.T, public string) *fixture {
	t.Helper()
	return newUIAt(t, public, t.TempDir())
}

func newUIAt(t *testing.T, public, state string) *fixture {
	t.Helper()
	inst, err := auth.Instance(state)
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.OpenSessions(state, tok, auth.CookieName(inst), auth.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lim := auth.NewLimiter(auth.LimitOptions{PerAddrBurst: 3, PerAddrEvery: time.Minute})
	a := &auth.Auth{Methods: []auth.Method{auth.Bearer(tok, lim), auth.Cookie(s)}}
	next := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) }))
	var pub *url.URL
	if public != "" {
		if pub, err = url.Parse(public); err != nil {
			t.Fatal(err)
		}
	}
	u, err := New(Config{Token: tok, Sessions: s, Limiter: lim, Public: pub, Log: zerolog.Nop()}, next)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{UI: u, sessions: s, lim: lim}
}

func do(h http.Handler, method, target string, body io.Reader, mod func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// login logs in with the token and returns the session cookie.
func (f *fixture) login(t *testing.T) *http.Cookie {
	t.Helper()
	w := do(f, "GET", "/?token="+tok, nil, nil)
	for _, c := range w.Result().Cookies() {
		if c.Name == f.sessions.CookieName() {
			return c
		}
	}
	t.Fatalf("no session cookie after login: %d %v", w.Code, w.Result().Cookies())
	return nil
}

func with(c *http.Cookie) func(*http.Request) { return func(r *http.Request) { r.AddCookie(c) } }

func csrfOf(t *testing.T, f *fixture, c *http.Cookie) string {
	t.Helper()
	s, ok := f.sessions.Lookup(c.Value)
	if !ok {
		t.Fatal("the session is not live")
	}
	return s.CSRF
}

func TestLoginURL(t *testing.T) {
	f := newUI(t, "")
	w := do(f, "GET", "/?token="+tok, nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("login URL: %d %q", w.Code, w.Header().Get("Location"))
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != f.sessions.CookieName() || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/" || c[0].Secure {
		t.Fatalf("cookie: %+v", c)
	}
	if strings.Contains(c[0].Value, tok) || len(c[0].Value) < 40 {
		t.Fatalf("cookie value %q: want a random session id", c[0].Value)
	}
	// Every login is a new session.
	if again := f.login(t); again.Value == c[0].Value {
		t.Fatal("two logins got the same session")
	}
	// A wrong token: 401 and the form, no cookie.
	w = do(f, "GET", "/task/abc123?token=wrong", nil, nil)
	if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 || !strings.Contains(w.Body.String(), "not right") {
		t.Fatalf("wrong token: %d %v", w.Code, w.Result().Cookies())
	}
	// Other query parameters survive the redirect.
	w = do(f, "GET", "/project/demo/review?branch=agent%2Fx&token="+tok, nil, nil)
	if loc := w.Header().Get("Location"); loc != "/project/demo/review?branch=agent%2Fx" {
		t.Fatalf("redirect %q", loc)
	}
}

func TestPagesNeedSession(t *testing.T) {
	f := newUI(t, "")
	w := do(f, "GET", "/task/abc123", nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next="+url.QueryEscape("/task/abc123") {
		t.Fatalf("no session: %d %q", w.Code, w.Header().Get("Location"))
	}
	c := f.login(t)
	csrf := csrfOf(t, f, c)
	w = do(f, "GET", "/task/abc123", nil, with(c))
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `"page":"task"`) || !strings.Contains(body, `"id":"abc123"`) || !strings.Contains(body, csrf) {
		t.Fatalf("page: %d\n%s", w.Code, body)
	}
	if strings.Contains(body, tok) {
		t.Fatal("the page holds the access token")
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	// The API behind: no credentials 401, cookie reads, mutation needs CSRF.
	if w := do(f, "GET", "/api/v1/tasks", nil, nil); w.Code != 401 {
		t.Fatalf("api without credentials: %d", w.Code)
	}
	if w := do(f, "GET", "/api/v1/tasks", nil, with(c)); w.Code != 200 || w.Body.String() != "api /api/v1/tasks" {
		t.Fatalf("api with cookie: %d %s", w.Code, w.Body)
	}
	if w := do(f, "POST", "/api/v1/tasks", nil, with(c)); w.Code != 403 {
		t.Fatalf("mutation without CSRF: %d", w.Code)
	}
	if w := do(f, "POST", "/api/v1/tasks", nil, func(r *http.Request) { r.AddCookie(c); r.Header.Set(auth.CSRFHeader, csrf) }); w.Code != 200 {
		t.Fatalf("mutation with CSRF: %d", w.Code)
	}
	// The old same-origin task UI address goes to the task's page.
	if w := do(f, "GET", "/tasks/abc123/ui/index.html", nil, with(c)); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/task/abc123" {
		t.Fatalf("old task UI address: %d %q", w.Code, w.Header().Get("Location"))
	}
}

func TestLoginFormAndLogout(t *testing.T) {
	f := newUI(t, "")
	w := do(f, "POST", "/login", strings.NewReader("token=nope&next=%2Fdaemons"), nil)
	if w.Code != 401 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("bad token: %d", w.Code)
	}
	w = do(f, "POST", "/login", strings.NewReader("token="+tok+"&next=%2F%2Fevil.example"), nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || len(w.Result().Cookies()) != 1 {
		t.Fatalf("login to a foreign next: %d %q", w.Code, w.Header().Get("Location"))
	}
	c := w.Result().Cookies()[0]
	w = do(f, "POST", "/logout", strings.NewReader("csrf=wrong"), with(c))
	if w.Code != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", w.Code)
	}
	w = do(f, "POST", "/logout", strings.NewReader("csrf="+url.QueryEscape(csrfOf(t, f, c))), with(c))
	out := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(out) != 1 || out[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %+v", w.Code, out)
	}
	// The old cookie is worth nothing after logout, even if kept.
	if w := do(f, "GET", "/api/v1/tasks", nil, with(c)); w.Code != 401 {
		t.Fatalf("the logged-out cookie still reads the API: %d", w.Code)
	}
	if w := do(f, "GET", "/", nil, with(c)); w.Code != http.StatusSeeOther {
		t.Fatalf("the logged-out cookie still opens pages: %d", w.Code)
	}
}

// TestHostileLoginNext: the page after login stays on this site: a TAB
// or another control character in next (browsers drop them, so
// "/\t/evil.example" becomes "//evil.example"), "//host", a backslash and
// a scheme are all refused.
func TestHostileLoginNext(t *testing.T) {
	f := newUI(t, "")
	for _, next := range []string{"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\x00x", "/\x7f/evil.example",
		"//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/", "javascript:alert(1)", "evil.example", "/%2F/evil.example", "/%09/evil.example"} {
		form := url.Values{"token": {tok}, "next": {next}}.Encode()
		w := do(f, "POST", "/login", strings.NewReader(form), nil)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
			t.Errorf("next %q: %d to %q, want / ", next, w.Code, w.Header().Get("Location"))
		}
		// The form carries the refused value as / too.
		w = do(f, "GET", "/login?next="+url.QueryEscape(next), nil, nil)
		if !strings.Contains(w.Body.String(), `name="next" value="/"`) {
			t.Errorf("login form for next %q keeps it", next)
		}
	}
	form := url.Values{"token": {tok}, "next": {"/project/demo/review?branch=agent%2Fx"}}.Encode()
	if w := do(f, "POST", "/login", strings.NewReader(form), nil); w.Header().Get("Location") != "/project/demo/review?branch=agent%2Fx" {
		t.Fatalf("a good next was not kept: %q", w.Header().Get("Location"))
	}
}

// TestHostileLoginRateLimit: failed logins from one address are limited
// (429 with Retry-After, the right token refused meanwhile too), on the
// form and the login URL alike; a logged-in browser keeps working.
func TestHostileLoginRateLimit(t *testing.T) {
	f := newUI(t, "")
	c := f.login(t)
	for i := 0; i < 3; i++ {
		if w := do(f, "POST", "/login", strings.NewReader("token=guess"), nil); w.Code != 401 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	w := do(f, "POST", "/login", strings.NewReader("token="+tok), nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || len(w.Result().Cookies()) != 0 || !strings.Contains(w.Body.String(), "Too many failed logins") {
		t.Fatalf("after 3 failures: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	if w := do(f, "GET", "/?token="+tok, nil, nil); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the login URL during the lock-out: %d", w.Code)
	}
	if w := do(f, "GET", "/api/v1/tasks", nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the bearer token during the lock-out: %d", w.Code)
	}
	if w := do(f, "GET", "/", nil, with(c)); w.Code != 200 {
		t.Fatalf("a live session during the lock-out: %d", w.Code)
	}
	// Another address is not locked out.
	if w := do(f, "POST", "/login", strings.NewReader("token="+tok), func(r *http.Request) { r.RemoteAddr = "192.0.2.44:5000" }); w.Code != http.StatusSeeOther {
		t.Fatalf("another address: %d", w.Code)
	}
}

// TestTwoInstances: two terok instances on one host (ports differ, the
// cookie jar is per host) keep their logins apart: logging in to one
// leaves the other logged in.
func TestTwoInstances(t *testing.T) {
	a, b := newUI(t, ""), newUI(t, "")
	if a.sessions.CookieName() == b.sessions.CookieName() {
		t.Fatal("two instances share a cookie name")
	}
	sa, sb := httptest.NewServer(a), httptest.NewServer(b)
	defer sa.Close()
	defer sb.Close()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) int {
		resp, err := cl.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get(sa.URL + "/?token=" + tok)
	get(sb.URL + "/?token=" + tok)
	if code := get(sa.URL + "/api/v1/tasks"); code != 200 {
		t.Fatalf("instance A after logging in to B: %d", code)
	}
	if code := get(sb.URL + "/api/v1/tasks"); code != 200 {
		t.Fatalf("instance B: %d", code)
	}
	u, _ := url.Parse(sa.URL)
	if n := len(jar.Cookies(u)); n != 2 {
		t.Fatalf("%d cookies for the host, want both instances'", n)
	}
}

// TestRestartKeepsLogin: a new terok-web on the same state keeps the
// session; a new token ends it.
func TestRestartKeepsLogin(t *testing.T) {
	state := t.TempDir()
	f := newUIAt(t, "", state)
	c := f.login(t)
	g := newUIAt(t, "", state)
	if w := do(g, "GET", "/api/v1/tasks", nil, with(c)); w.Code != 200 {
		t.Fatalf("after a restart: %d", w.Code)
	}
	inst, _ := auth.Instance(state)
	s, _ := auth.OpenSessions(state, "a-new-token-0123456789", auth.CookieName(inst), auth.SessionOptions{})
	if _, ok := s.Lookup(c.Value); ok {
		t.Fatal("a login survived a new access token")
	}
}

func TestPublicURLPrefix(t *testing.T) {
	f := newUI(t, "https://terok.example.com:8443/terok/")
	via := func(r *http.Request) { r.Host = "terok.example.com:8443"; r.Header.Set("X-Forwarded-Proto", "https") }
	w := do(f, "GET", "/?token="+tok, nil, via)
	c := w.Result().Cookies()
	if w.Header().Get("Location") != "/terok/" || len(c) != 1 || c[0].Path != "/terok/" || !c[0].Secure {
		t.Fatalf("through the proxy: %q %+v", w.Header().Get("Location"), c)
	}
	w = do(f, "GET", "/", nil, func(r *http.Request) { via(r); r.AddCookie(c[0]) })
	if !strings.Contains(w.Body.String(), `href="/terok/static/app.css`) || !strings.Contains(w.Body.String(), `"base":"/terok"`) {
		t.Fatalf("links lack the prefix:\n%s", w.Body)
	}
	// Directly on the listener the prefix does not apply.
	w = do(f, "GET", "/", nil, with(c[0]))
	if !strings.Contains(w.Body.String(), `"base":""`) {
		t.Fatalf("direct request got a prefix:\n%s", w.Body)
	}
}

func TestStatic(t *testing.T) {
	f := newUI(t, "")
	w := do(f, "GET", "/static/app.js?v="+f.assetVersion, nil, func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip") })
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("static: %d %v", w.Code, w.Header())
	}
	if w := do(f, "GET", "/static/vendor/xterm/LICENSE", nil, nil); w.Code != 200 || !strings.Contains(w.Body.String(), "MIT") && !strings.Contains(w.Body.String(), "Permission is hereby granted") {
		t.Fatalf("licence: %d", w.Code)
	}
	if w := do(f, "GET", "/static/nope.js", nil, nil); w.Code != 404 {
		t.Fatalf("missing asset: %d", w.Code)
	}
}
