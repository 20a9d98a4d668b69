package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

// TestHostileWebURLNotForCookies: the login URL (it holds the access
// token) is given to web.sock and the bearer token, never to a browser
// session.
func TestHostileWebURLNotForCookies(t *testing.T) {
	f := newFixture(t)
	for via, want := range map[auth.Via]int{auth.ViaSocket: 200, auth.ViaBearer: 200, auth.ViaCookie: 403} {
		r := httptest.NewRequest("GET", Prefix+"/web/url", nil)
		r = r.WithContext(auth.WithIdentity(r.Context(), auth.Identity{Via: via, Session: "s"}))
		w := httptest.NewRecorder()
		f.api.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", via, w.Code, want)
		}
		if want == 403 && strings.Contains(w.Body.String(), "secret-token") {
			t.Errorf("%s: the refusal holds the token", via)
		}
	}
}
