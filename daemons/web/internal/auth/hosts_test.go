package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestHosts: IP literals, localhost and its subdomains, the public
// hosts and the listed names pass; other names (a rebinding page's) are
// refused with a page naming the variable to set.
func TestHosts(t *testing.T) {
	pub, _ := url.Parse("https://terok.example.com/terok")
	h := NewHosts(pub, "lan-box.example.net", []string{" build.lan", " *.dev.example.org "})
	for host, want := range map[string]bool{
		"127.0.0.1:8566": true, "192.0.2.7:7860": true, "[::1]:8566": true, "[2001:db8::1]": true,
		"localhost:8566": true, "LOCALHOST": true, "t1.localhost:8566": true, "localhost.:8566": true,
		"terok.example.com": true, "terok.example.com:443": true, "lan-box.example.net:7861": true,
		"build.lan:8566": true, "a.dev.example.org": true, "x.y.dev.example.org:1": true,
		"dev.example.org": false, "evil.example:8566": false, "127.0.0.1.evil.example": false,
		"localhost.evil.example": false, "example.com": false, "": true,
	} {
		if got := h.Allowed(host); got != want {
			t.Errorf("Host %q: allowed %v, want %v", host, got, want)
		}
	}
	srv := h.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	for _, tc := range []struct{ path, accept, ctype string }{
		{"/", "text/html,application/xhtml+xml", "text/html"},
		{"/api/v1/tasks", "*/*", "application/json"},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Host = "rebound.evil.example:8566"
		r.Header.Set("Accept", tc.accept)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != 403 || !strings.Contains(w.Body.String(), AllowedHostsVar) || !strings.Contains(w.Body.String(), "rebound.evil.example") ||
			!strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) {
			t.Fatalf("%s: %d %s %s", tc.path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

// TestSameOrigin: scheme, host and port must all match; another port of
// the same host (a task's UI) is another origin.
func TestSameOrigin(t *testing.T) {
	pub, _ := ParseOrigin("https://terok.example.com/terok")
	for _, tc := range []struct {
		host, origin, proto string
		want                bool
	}{
		{"127.0.0.1:8566", "", "", true},
		{"127.0.0.1:8566", "http://127.0.0.1:8566", "", true},
		{"127.0.0.1:8566", "http://127.0.0.1:7860", "", false},
		{"127.0.0.1:8566", "https://127.0.0.1:8566", "", false},
		{"127.0.0.1:8566", "http://localhost:8566", "", false},
		{"127.0.0.1:8566", "null", "", false},
		{"localhost:80", "http://localhost", "", true},
		{"terok.example.com", "https://terok.example.com", "https", true},
		{"127.0.0.1:8566", "https://terok.example.com", "", true},
		{"127.0.0.1:8566", "https://terok.example.com:8443", "", false},
		{"127.0.0.1:8566", "http://127.0.0.1:8566.evil.example", "", false},
	} {
		r := httptest.NewRequest("GET", "/api/v1/events", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		if got := SameOrigin(r, pub); got != tc.want {
			t.Errorf("Host %s Origin %q: %v, want %v", tc.host, tc.origin, got, tc.want)
		}
	}
}
