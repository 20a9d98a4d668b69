package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

const tok = "0123456789abcdef-ui-token"

func newUI(t *testing.T, public string) *UI {
	t.Helper()
	a := &auth.Auth{Methods: []auth.Method{auth.Bearer(tok), auth.Cookie(tok)}}
	next := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) }))
	u, err := New(Config{Token: tok, PublicURL: public, Log: zerolog.Nop()}, next)
	if err != nil {
		t.Fatal(err)
	}
	return u
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

func session(r *http.Request) {
	r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: auth.SessionValue(tok)})
}

func TestLoginURL(t *testing.T) {
	u := newUI(t, "")
	w := do(u, "GET", "/?token="+tok, nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("login URL: %d %q", w.Code, w.Header().Get("Location"))
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != auth.CookieName || c[0].Value != auth.SessionValue(tok) || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/" {
		t.Fatalf("cookie: %+v", c)
	}
	if strings.Contains(c[0].Value, tok) {
		t.Fatal("the cookie carries the token itself")
	}
	// A wrong token: 401 and the form, no cookie.
	w = do(u, "GET", "/task/abc123?token=wrong", nil, nil)
	if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 || !strings.Contains(w.Body.String(), "not right") {
		t.Fatalf("wrong token: %d %v", w.Code, w.Result().Cookies())
	}
	// Other query parameters survive the redirect.
	w = do(u, "GET", "/project/demo/review?branch=agent%2Fx&token="+tok, nil, nil)
	if loc := w.Header().Get("Location"); loc != "/project/demo/review?branch=agent%2Fx" {
		t.Fatalf("redirect %q", loc)
	}
}

func TestPagesNeedSession(t *testing.T) {
	u := newUI(t, "")
	w := do(u, "GET", "/task/abc123", nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next="+url.QueryEscape("/task/abc123") {
		t.Fatalf("no session: %d %q", w.Code, w.Header().Get("Location"))
	}
	w = do(u, "GET", "/task/abc123", nil, session)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `"page":"task"`) || !strings.Contains(body, `"id":"abc123"`) || !strings.Contains(body, auth.CSRFValue(tok)) {
		t.Fatalf("page: %d\n%s", w.Code, body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	// The API behind: no credentials 401, cookie reads, mutation needs CSRF.
	if w := do(u, "GET", "/api/v1/tasks", nil, nil); w.Code != 401 {
		t.Fatalf("api without credentials: %d", w.Code)
	}
	if w := do(u, "GET", "/api/v1/tasks", nil, session); w.Code != 200 || w.Body.String() != "api /api/v1/tasks" {
		t.Fatalf("api with cookie: %d %s", w.Code, w.Body)
	}
	if w := do(u, "POST", "/api/v1/tasks", nil, session); w.Code != 401 {
		t.Fatalf("mutation without CSRF: %d", w.Code)
	}
	if w := do(u, "POST", "/api/v1/tasks", nil, func(r *http.Request) { session(r); r.Header.Set(auth.CSRFHeader, auth.CSRFValue(tok)) }); w.Code != 200 {
		t.Fatalf("mutation with CSRF: %d", w.Code)
	}
}

func TestLoginFormAndLogout(t *testing.T) {
	u := newUI(t, "")
	w := do(u, "POST", "/login", strings.NewReader("token=nope&next=%2Fdaemons"), nil)
	if w.Code != 401 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("bad token: %d", w.Code)
	}
	w = do(u, "POST", "/login", strings.NewReader("token="+tok+"&next=%2F%2Fevil.example"), nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || len(w.Result().Cookies()) != 1 {
		t.Fatalf("login to a foreign next: %d %q", w.Code, w.Header().Get("Location"))
	}
	w = do(u, "POST", "/logout", strings.NewReader("csrf=wrong"), session)
	if w.Code != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", w.Code)
	}
	w = do(u, "POST", "/logout", strings.NewReader("csrf="+auth.CSRFValue(tok)), session)
	c := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %+v", w.Code, c)
	}
}

func TestPublicURLPrefix(t *testing.T) {
	u := newUI(t, "https://terok.example.com:8443/terok/")
	via := func(r *http.Request) { r.Host = "terok.example.com:8443"; r.Header.Set("X-Forwarded-Proto", "https") }
	w := do(u, "GET", "/?token="+tok, nil, via)
	c := w.Result().Cookies()
	if w.Header().Get("Location") != "/terok/" || len(c) != 1 || c[0].Path != "/terok/" || !c[0].Secure {
		t.Fatalf("through the proxy: %q %+v", w.Header().Get("Location"), c)
	}
	w = do(u, "GET", "/", nil, func(r *http.Request) { via(r); session(r) })
	if !strings.Contains(w.Body.String(), `href="/terok/static/app.css`) || !strings.Contains(w.Body.String(), `"base":"/terok"`) {
		t.Fatalf("links lack the prefix:\n%s", w.Body)
	}
	// Directly on the listener the prefix does not apply.
	w = do(u, "GET", "/", nil, session)
	if !strings.Contains(w.Body.String(), `"base":""`) {
		t.Fatalf("direct request got a prefix:\n%s", w.Body)
	}
	if _, err := New(Config{Token: tok, PublicURL: "terok.example.com"}, http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "TEROK_PUBLIC_URL") {
		t.Fatalf("a URL without scheme: %v", err)
	}
}

func TestStatic(t *testing.T) {
	u := newUI(t, "")
	w := do(u, "GET", "/static/app.js?v="+u.assetVersion, nil, func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip") })
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("static: %d %v", w.Code, w.Header())
	}
	if w := do(u, "GET", "/static/vendor/xterm/LICENSE", nil, nil); w.Code != 200 || !strings.Contains(w.Body.String(), "MIT") && !strings.Contains(w.Body.String(), "Permission is hereby granted") {
		t.Fatalf("licence: %d", w.Code)
	}
	if w := do(u, "GET", "/static/nope.js", nil, nil); w.Code != 404 {
		t.Fatalf("missing asset: %d", w.Code)
	}
}
