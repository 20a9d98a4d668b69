package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCookie(t *testing.T) {
	const tok = "0123456789abcdef-token"
	a := &Auth{Methods: []Method{Bearer(tok), Cookie(tok)}}
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	for _, tc := range []struct {
		name, method, cookie, csrf string
		want                       int
	}{
		{"no cookie", "GET", "", "", 401},
		{"the token as cookie", "GET", tok, "", 401},
		{"session read", "GET", SessionValue(tok), "", 204},
		{"other token's session", "GET", SessionValue(tok + "x"), "", 401},
		{"mutation without csrf", "POST", SessionValue(tok), "", 401},
		{"mutation with wrong csrf", "POST", SessionValue(tok), CSRFValue(tok + "x"), 401},
		{"mutation with the session as csrf", "DELETE", SessionValue(tok), SessionValue(tok), 401},
		{"mutation with csrf", "POST", SessionValue(tok), CSRFValue(tok), 204},
		{"csrf alone", "POST", "", CSRFValue(tok), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/api/v1/tasks", nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: CookieName, Value: tc.cookie})
			}
			if tc.csrf != "" {
				r.Header.Set(CSRFHeader, tc.csrf)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
	if SessionValue(tok) == CSRFValue(tok) {
		t.Fatal("session and CSRF values are the same")
	}
}
