package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func as(via auth.Via) func(*http.Request) *http.Request {
	return func(r *http.Request) *http.Request {
		return r.WithContext(auth.WithIdentity(r.Context(), auth.Identity{Via: via, Session: "s"}))
	}
}

// TestHostileWebURLNotForCookies: the login URL (it holds the access
// token) is given to web.sock and the bearer token, never to a browser
// session.
func TestHostileWebURLNotForCookies(t *testing.T) {
	a := New(Deps{Log: zerolog.Nop(), LoginURL: "http://127.0.0.1:8566/?token=secret-token-0123456789"})
	for via, want := range map[auth.Via]int{auth.ViaSocket: 200, auth.ViaBearer: 200, auth.ViaCookie: 403} {
		r := as(via)(httptest.NewRequest("GET", Prefix+"/web/url", nil))
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", via, w.Code, want)
		}
		if want == 403 && strings.Contains(w.Body.String(), "secret-token") {
			t.Errorf("%s: the refusal holds the token", via)
		}
	}
}

// TestRedact: daemon log text over TCP shows no token, by value or by
// shape.
func TestRedact(t *testing.T) {
	in := strings.Join([]string{
		"terok-gate: admin token: 9f86d081884c7d659a2feaa0c55ad015  (kept in /state/gate/admin-token)",
		"terok-gate: clone with:   git clone http://9f86d081884c7d659a2feaa0c55ad015@localhost:9418/<project>.git",
		`{"level":"info","token":"terok-g-0123456789abcdef0123456789abcdef","msg":"minted"}`,
		"Authorization: Bearer abcdefghijklmnop",
		"web token: e2e-web-0badcafe1234 set",
		"api_key=sk-live-123456789012345",
		"a known secret fixed-secret-value in a line",
		"commit 0123456789abcdef0123456789abcdef01234567 container 3f1c9d2e",
		"access token in /state/web/token",
	}, "\n")
	out := Redact(in, "fixed-secret-value", "short")
	for _, secret := range []string{"9f86d081884c7d659a2feaa0c55ad015", "terok-g-0123456789abcdef", "abcdefghijklmnop", "e2e-web-0badcafe1234", "sk-live-123456789012345", "fixed-secret-value"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q survived:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"commit 0123456789abcdef0123456789abcdef01234567 container 3f1c9d2e", "access token in /state/web/token", "kept in /state/gate/admin-token", "@localhost:9418"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q was redacted:\n%s", kept, out)
		}
	}
}

// TestHideEnv: a browser session reads agent.env's names, not values;
// sent back, the hidden values keep what is stored.
func TestHideEnv(t *testing.T) {
	p := webapi.ProjectInfo{Project: webapi.Project{Name: "p", Agent: webapi.Agent{Env: map[string]string{"API_KEY": "sk-secret"}}}}
	r := as(auth.ViaCookie)(httptest.NewRequest("GET", "/", nil))
	if got := hideEnv(r, p); got.Agent.Env["API_KEY"] != HiddenValue {
		t.Fatalf("cookie: %v", got.Agent.Env)
	}
	if p.Agent.Env["API_KEY"] != "sk-secret" {
		t.Fatal("hideEnv changed the stored project")
	}
	if got := hideEnv(as(auth.ViaBearer)(httptest.NewRequest("GET", "/", nil)), p); got.Agent.Env["API_KEY"] != "sk-secret" {
		t.Fatalf("bearer: %v", got.Agent.Env)
	}
	back := webapi.Project{Agent: webapi.Agent{Env: map[string]string{"API_KEY": HiddenValue, "NEW": "v", "GONE": HiddenValue}}}
	keepHidden(&back, p.Agent.Env)
	if back.Agent.Env["API_KEY"] != "sk-secret" || back.Agent.Env["NEW"] != "v" {
		t.Fatalf("kept: %v", back.Agent.Env)
	}
	if _, ok := back.Agent.Env["GONE"]; ok {
		t.Fatal("a hidden value with nothing stored was kept as the placeholder")
	}
}
