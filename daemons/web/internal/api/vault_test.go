package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fakedaemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// realKey stands for a provider's real key in these tests: no answer,
// error or log line may hold it.
const realKey = "sk-ant-api03-REALKEYrealkeyREALKEY0123456789"

// TestHostileSecretValueNeverShown: a secret is set, listed and removed through the
// API; the value reaches the vault and appears in no answer, no error
// and no access line, whichever way the request goes wrong.
func TestHostileSecretValueNeverShown(t *testing.T) {
	f := newFixture(t)
	f.project()
	var logs bytes.Buffer
	h := httpmw.Wrap(f.api, zerolog.New(&logs))
	do := func(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if strings.Contains(w.Body.String(), realKey) || strings.Contains(w.Body.String(), realKey[14:]) {
			t.Fatalf("%s %s answered the value: %s", method, path, w.Body)
		}
		return w
	}
	body := `{"value": "` + realKey + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"global", "PUT", Prefix + "/secrets/anthropic", body, 200, `"fingerprint"`},
		{"a project's", "PUT", Prefix + "/secrets/anthropic?project=demo", body, 200, `"project":"demo"`},
		{"unknown provider", "PUT", Prefix + "/secrets/nosuch", body, 404, "no provider"},
		{"unknown project", "PUT", Prefix + "/secrets/anthropic?project=nope", body, 404, "nope"},
		{"empty value", "PUT", Prefix + "/secrets/anthropic", `{"value": ""}`, 400, "the value is empty"},
		{"bare value", "PUT", Prefix + "/secrets/anthropic", realKey, 400, "the body must be JSON"},
		{"value as a number", "PUT", Prefix + "/secrets/anthropic", `{"value": 12345}`, 400, "the body must be JSON"},
		{"unknown field", "PUT", Prefix + "/secrets/anthropic", `{"key": "` + realKey + `"}`, 400, "the body must be JSON"},
		// The decoder names an unknown field: here the value itself.
		{"value as a field name", "PUT", Prefix + "/secrets/anthropic", `{"` + realKey + `": ""}`, 400, "the body must be JSON"},
		{"list", "GET", Prefix + "/secrets", "", 200, `"provider":"anthropic"`},
		{"list of a project", "GET", Prefix + "/secrets?project=demo", "", 200, `"project":"demo"`},
		{"providers", "GET", Prefix + "/providers", "", 200, `"upstream":"https://api.anthropic.com"`},
		{"device login", "POST", Prefix + "/secrets/anthropic/login", `{"flow": "device"}`, 200, `"user_code":"ABCD-EFGH"`},
		{"device login done", "GET", Prefix + "/logins/login-1?wait=1s", "", 200, `"state":"done"`},
		{"a bad wait", "GET", Prefix + "/logins/login-1?wait=soon", "", 400, "?wait=30s"},
		{"no such login", "GET", Prefix + "/logins/nope", "", 404, "no login"},
		{"pasted token", "POST", Prefix + "/secrets/anthropic/login?project=demo", `{"flow": "refresh-token", "refresh_token": "` + realKey + `"}`, 200, `"kind":"oauth"`},
		{"pasted token as a field name", "POST", Prefix + "/secrets/anthropic/login", `{"` + realKey + `": 1}`, 400, "the body must be JSON"},
		{"login of an unknown project", "POST", Prefix + "/secrets/anthropic/login?project=nope", `{"flow": "device"}`, 404, "nope"},
		{"remove", "DELETE", Prefix + "/secrets/anthropic?project=demo", "", 200, `"removed":{"provider":"anthropic","project":"demo"`},
		{"remove again", "DELETE", Prefix + "/secrets/anthropic?project=demo", "", 404, "no credential stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, tc.method, tc.path, tc.body)
			if w.Code != tc.status || !strings.Contains(compact(w.Body.String()), tc.want) {
				t.Fatalf("%d %s, want %d with %q", w.Code, w.Body, tc.status, tc.want)
			}
			if w.Code >= 400 {
				errorOf(t, w.Body.String())
			}
		})
	}
	if f.vault.Value("login/anthropic", "demo") != realKey {
		t.Fatal("the pasted refresh token did not reach the vault")
	}
	if f.vault.Value("anthropic", "") != realKey {
		t.Fatal("the value did not reach the vault")
	}
	if strings.Contains(logs.String(), realKey) || !strings.Contains(logs.String(), "/secrets/anthropic") {
		t.Fatalf("access lines:\n%s", logs.String())
	}
}

// TestSecretsWithoutVault: no vault, or a vault that does not answer:
// 503 saying so (and never the value).
func TestSecretsWithoutVault(t *testing.T) {
	f := newFixture(t)
	f.vault.Set("SetSecret", fakedaemons.Down("/run/terok/vault.sock"))
	f.vault.Set("ListSecrets", fakedaemons.Down("/run/terok/vault.sock"))
	w := f.do(req{method: "PUT", path: Prefix + "/secrets/anthropic", body: `{"value": "` + realKey + `"}`})
	if msg := errorOf(t, w.Body.String()); w.Code != http.StatusServiceUnavailable || !strings.Contains(msg, "terok-vault does not answer") || strings.Contains(msg, realKey) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := f.do(req{method: "GET", path: Prefix + "/secrets"}); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	none := New(Deps{})
	r := httptest.NewRequest("GET", Prefix+"/secrets", nil)
	rw := httptest.NewRecorder()
	none.ServeHTTP(rw, r)
	if rw.Code != http.StatusServiceUnavailable || !strings.Contains(rw.Body.String(), "terok-web has no vault") {
		t.Fatalf("no vault: %d %s", rw.Code, rw.Body)
	}
}

// TestTaskWithProviders: a project that names providers runs its task
// with the vault's phantoms and the providers' hosts denied; the task's
// answers show neither a phantom nor a key, the timeline only counts.
func TestTaskWithProviders(t *testing.T) {
	f := newFixture(t)
	f.must(req{method: "POST", path: Prefix + "/projects", body: `{"name": "keyed", "agent": {"command": "make", "providers": ["anthropic"]}}`}, 201)
	if b := f.must(req{method: "GET", path: Prefix + "/projects/keyed"}, 200); !strings.Contains(compact(b), `"providers":["anthropic"]`) {
		t.Fatalf("project: %s", b)
	}
	w := f.do(req{method: "POST", path: Prefix + "/projects", body: `{"name": "bad", "agent": {"providers": ["Anthropic!"]}}`})
	if w.Code != 400 || !strings.Contains(errorOf(t, w.Body.String()), "agent.providers") {
		t.Fatalf("bad provider name: %d %s", w.Code, w.Body)
	}
	var task webapi.Task
	json.Unmarshal([]byte(f.must(req{method: "POST", path: Prefix + "/tasks", body: `{"project": "keyed"}`}, 201)), &task)
	spec := f.pm.Spec(task.Container)
	if spec.Env["KEY_anthropic"] != "phantom-"+task.ID+"-anthropic" || spec.Env["BASE_URL_anthropic"] != "http://host.containers.internal:9419/anthropic" ||
		spec.Annotations[shieldapi.AnnotationDeny] != "api.anthropic.com" {
		t.Fatalf("spec env %v annotations %v", spec.Env, spec.Annotations)
	}
	f.pm.Exit(task.Container, 0)
	f.must(req{method: "GET", path: Prefix + "/tasks/" + task.ID + "/wait"}, 200)
	for _, p := range []string{"/tasks/" + task.ID, "/tasks/" + task.ID + "/timeline", "/tasks"} {
		if b := f.must(req{method: "GET", path: Prefix + p}, 200); strings.Contains(b, "phantom-") {
			t.Errorf("%s shows a phantom: %s", p, b)
		}
	}
	tl := f.must(req{method: "GET", path: Prefix + "/tasks/" + task.ID + "/timeline"}, 200)
	if !strings.Contains(tl, "credentials: 1 phantom(s) minted (anthropic)") || !strings.Contains(tl, "credentials: 1 phantom(s) revoked") {
		t.Fatalf("timeline: %s", tl)
	}
}

// compact is a JSON answer without white space (non-JSON as it is).
func compact(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

// TestHostileSecretOverwrittenFromAnotherSite: a page of another site in
// the user's browser (the session cookie goes along) cannot store its own
// key in place of the user's (the agents' prompts would then go to the
// attacker's account) nor remove one: without the page's CSRF header, or
// marked cross-site, the request is refused before the vault is asked.
func TestHostileSecretOverwrittenFromAnotherSite(t *testing.T) {
	f := newFixture(t)
	sessions, err := auth.OpenSessions(t.TempDir(), "secret-token-0123456789", auth.CookieName("i1"), auth.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cookie, sess, err := sessions.Create()
	if err != nil {
		t.Fatal(err)
	}
	h := (&auth.Auth{Methods: []auth.Method{auth.Cookie(sessions)}}).Require(f.api)
	send := func(method, path, body string, header map[string]string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.AddCookie(&http.Cookie{Name: sessions.CookieName(), Value: cookie})
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	body := `{"value": "sk-ant-api03-ATTACKERSKEY0123456789"}`
	for _, tc := range []struct {
		name   string
		header map[string]string
	}{
		{"no CSRF header", nil},
		{"a wrong CSRF header", map[string]string{auth.CSRFHeader: "guessed"}},
		{"cross-site with the header", map[string]string{auth.CSRFHeader: sess.CSRF, "Sec-Fetch-Site": "cross-site"}},
		{"same-site (a task's page) with the header", map[string]string{auth.CSRFHeader: sess.CSRF, "Sec-Fetch-Site": "same-site"}},
	} {
		if code := send("PUT", Prefix+"/secrets/anthropic", body, tc.header); code != http.StatusForbidden {
			t.Errorf("%s: PUT answered %d, want 403", tc.name, code)
		}
		if code := send("POST", Prefix+"/secrets/anthropic/login", `{"flow": "refresh-token", "refresh_token": "attacker"}`, tc.header); code != http.StatusForbidden {
			t.Errorf("%s: login answered %d, want 403", tc.name, code)
		}
		if code := send("DELETE", Prefix+"/secrets/anthropic", "", tc.header); code != http.StatusForbidden {
			t.Errorf("%s: DELETE answered %d, want 403", tc.name, code)
		}
	}
	if v := f.vault.Value("anthropic", ""); v != "" {
		t.Fatalf("the vault got a value from another site")
	}
	// The page itself (same origin, its CSRF header) may.
	if code := send("PUT", Prefix+"/secrets/anthropic", body, map[string]string{auth.CSRFHeader: sess.CSRF, "Sec-Fetch-Site": "same-origin"}); code != 200 {
		t.Fatalf("the page's own request: %d", code)
	}
}
