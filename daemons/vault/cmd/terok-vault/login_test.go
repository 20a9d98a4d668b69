package main

import (
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/fakeupstream"
)

// TestLogin: a provider that declares a login; `secret login` runs it on
// the vault's side (a pasted refresh token, and the device flow), and the
// broker then sends the access token the vault got and refreshes, never
// the refresh token.
func TestLogin(t *testing.T) {
	e := newEnv(t)
	ep, err := fakeupstream.StartTokenEndpoint(e.ca, "rt-pasted")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.Close)
	e.writeProvider("sub", "upstream "+e.up.URL+"\ninject x-api-key\nphantom sk-sub-{alnum:40}\nroute POST /v1/messages\n"+ep.LoginLines())
	e.start()

	out, errOut, code := e.cli("rt-pasted\n", "secret", "login", "sub", "--paste")
	if code != 0 || !strings.Contains(out, "logged in: sub (global)") {
		t.Fatalf("paste: %d %q %q", code, out, errOut)
	}
	ph, err := e.client.MintPhantoms(ctx(t), "demo", "t1", []string{"sub"})
	mustJSON(t, err, "mint")
	if status, body := e.call("POST", "/sub/v1/messages", map[string]string{"X-Api-Key": ph[0].Token}, "{}"); status != 200 {
		t.Fatalf("through the broker: %d %s", status, body)
	}
	reqs := e.up.Requests()
	issued := ep.Issued()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); len(issued) != 1 || got != "Bearer "+issued[0] {
		t.Errorf("the provider got Authorization %q; issued %v", got, issued)
	}
	if got := reqs[len(reqs)-1].Header.Get("X-Api-Key"); got != "" {
		t.Errorf("the phantom's header reached the provider: %q", got)
	}
	list, _, _ := e.cli("", "secret", "list")
	if !strings.Contains(list, "oauth") || !strings.Contains(list, "expires") {
		t.Errorf("secret list:\n%s", list)
	}

	// The device flow for one project: the CLI shows the code and waits
	// while the vault polls (pending once, then done).
	ep.Set(func(e *fakeupstream.TokenEndpoint) { e.PendingPolls = 1 })
	out, errOut, code = e.cli("", "secret", "login", "sub", "--project", "demo")
	if code != 0 || !strings.Contains(out, "enter the code WDJB-MJHT") || !strings.Contains(out, "logged in: sub (project demo)") {
		t.Fatalf("device: %d %q %q", code, out, errOut)
	}
	if status, _ := e.call("POST", "/sub/v1/messages", map[string]string{"X-Api-Key": ph[0].Token}, "{}"); status != 200 {
		t.Fatal("after the device login")
	}
	reqs = e.up.Requests()
	issued = ep.Issued()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer "+issued[len(issued)-1] {
		t.Errorf("the project's login was not used: %q", got)
	}

	// A paste of a token the endpoint does not know fails, saying so.
	if _, errOut, code := e.cli("rt-unknown\n", "secret", "login", "sub", "--paste"); code != 1 || !strings.Contains(errOut, "invalid_grant") {
		t.Errorf("paste of an unknown refresh token: exit %d %q, want 1 naming invalid_grant", code, errOut)
	}

	// A refresh the endpoint refuses: the global login lives one second,
	// its background refresh is refused, and from then on the broker
	// answers 401 asking for a new login (a project without its own).
	ep.Accept("rt-2")
	ep.Set(func(e *fakeupstream.TokenEndpoint) { e.ExpiresIn = 1; e.Fail = []string{"", "invalid_grant"} })
	if _, errOut, code := e.cli("rt-2", "secret", "login", "sub", "--paste"); code != 0 {
		t.Fatalf("paste rt-2: %d %s", code, errOut)
	}
	problem := ""
	for i := 0; i < 100 && problem == ""; i++ { // bounded: 10 s
		list, _ := e.client.ListSecrets(ctx(t), "")
		for _, s := range list {
			if s.Provider == "sub" && s.Project == "" {
				problem = s.Problem
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(problem, "log in again") {
		t.Fatalf("the refused refresh was not recorded: %q", problem)
	}
	other, err := e.client.MintPhantoms(ctx(t), "other", "t2", []string{"sub"})
	mustJSON(t, err, "mint other")
	if status, body := e.call("POST", "/sub/v1/messages", map[string]string{"X-Api-Key": other[0].Token}, "{}"); status != 401 || !strings.Contains(body, "secret login sub") {
		t.Errorf("expired login through the broker: %d %s", status, body)
	}
	if _, err := e.client.Health(ctx(t)); err == nil || !strings.Contains(err.Error(), "cannot be used") {
		t.Errorf("health with a dead login: %v", err)
	}
	for _, v := range append(ep.Issued(), ep.Presented()...) {
		if strings.Contains(e.out.String(), v) || strings.Contains(e.answered.String(), v) {
			t.Errorf("a token appears in the vault's log or answers")
		}
	}
	if reused := ep.Reused(); len(reused) != 0 {
		t.Errorf("rotated-out refresh tokens were sent again: %v", reused)
	}
}
