package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRequireBearer(t *testing.T) {
	a := &Auth{Methods: []Method{Bearer("0123456789abcdef-token", nil)}}
	var got Identity
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = From(r); w.WriteHeader(204) }))
	for _, tc := range []struct {
		name, header, query string
		ws                  bool
		want                int
	}{
		{"none", "", "", false, 401},
		{"wrong", "Bearer 0123456789abcdef-tokeX", "", false, 401},
		{"prefix only", "Bearer 0123456789abcdef", "", false, 401},
		{"right", "Bearer 0123456789abcdef-token", "", false, 204},
		{"basic", "Basic 0123456789abcdef-token", "", false, 401},
		{"query on plain request", "", "0123456789abcdef-token", false, 401},
		{"query on websocket", "", "0123456789abcdef-token", true, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/tasks?token="+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if tc.ws {
				r.Header.Set("Upgrade", "websocket")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.want == 204 && got.Via != ViaBearer {
				t.Fatalf("identity %+v, want bearer", got)
			}
		})
	}
	// Without Require (web.sock) a request counts as the socket.
	if id := From(httptest.NewRequest("GET", "/", nil)); id.Via != ViaSocket {
		t.Fatalf("no Require: %+v", id)
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadToken(dir, "short"); !errors.Is(err, ErrWeakToken) {
		t.Fatalf("a 5-character token: %v", err)
	}
	tok, gen, err := LoadToken(dir, "")
	if err != nil || !gen || len(tok) < MinTokenLen {
		t.Fatalf("generate: %q %v %v", tok, gen, err)
	}
	st, err := os.Stat(TokenFile(dir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", st.Mode(), err)
	}
	again, gen, err := LoadToken(dir, "")
	if err != nil || gen || again != tok {
		t.Fatalf("second load gave %q (generated %v), want the kept %q: %v", again, gen, tok, err)
	}
}

// TestRequireCookie: the session cookie reads; a change needs the
// session's own CSRF value; a request the browser marks as from another
// origin is refused whatever it carries.
func TestRequireCookie(t *testing.T) {
	const tok = "0123456789abcdef-token"
	s := openTest(t, t.TempDir(), tok, &fakeClock{t: time.Unix(1_700_000_000, 0)})
	value, sess, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	other, otherSess, _ := s.Create()
	a := &Auth{Methods: []Method{Bearer(tok, nil), Cookie(s)}}
	var got Identity
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = From(r); w.WriteHeader(204) }))
	for _, tc := range []struct {
		name, method, cookie, csrf, site string
		want                             int
	}{
		{"no cookie", "GET", "", "", "", 401},
		{"the token as cookie", "GET", tok, "", "", 401},
		{"session read", "GET", value, "", "", 204},
		{"session read, same origin", "GET", value, "", "same-origin", 204},
		{"session read, typed address", "GET", value, "", "none", 204},
		{"session read from another port", "GET", value, "", "same-site", 403},
		{"session read from another site", "GET", value, "", "cross-site", 403},
		{"mutation without csrf", "POST", value, "", "", 403},
		{"mutation with another session's csrf", "POST", value, otherSess.CSRF, "", 403},
		{"mutation with the cookie as csrf", "DELETE", value, value, "", 403},
		{"mutation with csrf", "POST", value, sess.CSRF, "", 204},
		{"mutation with csrf from another port", "POST", value, sess.CSRF, "same-site", 403},
		{"csrf alone", "POST", "", sess.CSRF, "", 401},
		{"other session", "PUT", other, otherSess.CSRF, "same-origin", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/api/v1/tasks", nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: s.CookieName(), Value: tc.cookie})
			}
			if tc.csrf != "" {
				r.Header.Set(CSRFHeader, tc.csrf)
			}
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			w := httptest.NewRecorder()
			got = Identity{}
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.want == 204 && (got.Via != ViaCookie || got.Session == "") {
				t.Fatalf("identity %+v, want a cookie session", got)
			}
		})
	}
	if sess.CSRF == otherSess.CSRF || sess.CSRF == value {
		t.Fatal("CSRF values are not per session")
	}
}

// TestRequireLimited: wrong tokens from one address lock it out (429 with
// Retry-After) before the token is even compared, while another address
// still gets in.
func TestRequireLimited(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	lim := NewLimiter(LimitOptions{PerAddrBurst: 3, PerAddrEvery: time.Minute, GlobalBurst: 100, Now: clk.Now})
	a := &Auth{Methods: []Method{Bearer("0123456789abcdef-token", lim)}}
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	try := func(addr, tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/v1/tasks", nil)
		r.RemoteAddr = addr + ":40000"
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := 0; i < 3; i++ {
		if w := try("192.0.2.10", "wrong-token-guess"); w.Code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, w.Code)
		}
	}
	w := try("192.0.2.10", "0123456789abcdef-token")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "try again in") {
		t.Fatalf("after 3 failures even the right token: %d %q %s, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := try("192.0.2.11", "0123456789abcdef-token"); w.Code != 204 {
		t.Fatalf("another address: %d, want 204", w.Code)
	}
	clk.Add(61 * time.Second)
	if w := try("192.0.2.10", "0123456789abcdef-token"); w.Code != 204 {
		t.Fatalf("a minute later: %d, want 204", w.Code)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time      { return c.t }
func (c *fakeClock) Add(d time.Duration) { c.t = c.t.Add(d) }
func openTest(t *testing.T, dir, token string, clk *fakeClock) *Sessions {
	t.Helper()
	s, err := OpenSessions(dir, token, CookieName("0badcafe"), SessionOptions{Idle: time.Hour, Max: 24 * time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWrongTokenIsCalledWrong: a token that is not the right one is told
// apart from no token at all.
func TestWrongTokenIsCalledWrong(t *testing.T) {
	h := (&Auth{Methods: []Method{Bearer("0123456789abcdef-token", nil)}}).Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	for _, tc := range []struct{ header, want string }{
		{"Bearer 0123456789abcdef-tokeX", "that token is wrong"},
		{"", "this request needs the access token"},
		{"Bearer ", "this request needs the access token"},
	} {
		r := httptest.NewRequest("GET", "/api/v1/tasks", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%q: %d %s, want 401 saying %q", tc.header, w.Code, w.Body, tc.want)
		}
	}
}
