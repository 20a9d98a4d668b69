package auth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestRequire(t *testing.T) {
	a := New("0123456789abcdef-token")
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
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
		})
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadToken(dir, "short"); err == nil {
		t.Fatal("a 5-character token was accepted")
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

// TestWrongTokenIsCalledWrong: a token that is not the right one is told
// apart from no token at all.
func TestWrongTokenIsCalledWrong(t *testing.T) {
	h := New("0123456789abcdef-token").Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
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
