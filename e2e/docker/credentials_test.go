package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit/fakemodel"
	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// imageCAPath is where the host network container sees the test CA
// (mounted read-only); TEROK_VAULT_TEST_CA_FILE names it.
const imageCAPath = "/etc/terok-e2e/vault-test-ca.pem"

// imageRealKey is the key the credentials subtest stores: fixed, and
// unlike the one testImageVault stored before it.
const imageRealKey = "sk-ant-api03-REAL-e2e-docker-broker-0123456789abcdef"

// imageFakeAnswer is the fake provider's answer the task must print.
const imageFakeAnswer = "answer-of-the-fake-provider-in-docker"

// imageProviderDir is root's providers directory of the vault in the image.
const imageProviderDir = "/home/podman/.config/terok/system/vault/providers"

// imageCredentialsAgent is the task's command: what an agent does with
// its variables, one POST through the broker, and the answer printed.
const imageCredentialsAgent = `set -e
curl -sS -f -m 30 -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H "content-type: application/json" \
  -d '{"model":"fake","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'
echo
echo broker-ok`

// testCA makes the CA the host network container's vault trusts
// (TEROK_VAULT_TEST_CA_FILE) and writes it to a file to mount at
// imageCAPath.
func testCA(t *testing.T) (*testkit.CA, string) {
	t.Helper()
	ca, err := testkit.NewCA()
	if err != nil {
		t.Fatalf("the test CA: %v", err)
	}
	f := filepath.Join(t.TempDir(), "vault-test-ca.pem")
	if err := os.WriteFile(f, ca.PEM, 0o644); err != nil {
		t.Fatalf("the test CA file: %v", err)
	}
	return ca, f
}

// startImageFake serves a fake Anthropic-Messages provider (fakemodel)
// over TLS with ca's certificate on the host's loopback, which the vault
// of a host network container reaches as its own, and points the vault's
// anthropic at it the way root would in the image: a provider file of
// root's under the config volume's providers directory replacing the
// shipped one, then a restart of terok-vault. When the test ends the file
// is removed and the vault restarted on the shipped provider.
func startImageFake(t *testing.T, c *container, ca *testkit.CA) (*fakemodel.Server, string) {
	t.Helper()
	fake := &fakemodel.Server{Answer: imageFakeAnswer}
	ln, err := ca.Listen()
	if err != nil {
		t.Fatalf("the fake provider's listener: %v", err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	upstreamURL := fmt.Sprintf("https://127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)
	prov := "# The fake provider of the Docker e2e test.\nupstream " + upstreamURL + "\ninject x-api-key\naccept x-api-key\naccept Authorization Bearer\n" +
		"phantom sk-ant-api03-{base64url:93}AA\nroute POST /v1/messages\nroute POST /v1/messages/count_tokens\nroute GET /v1/models\n" +
		"env ANTHROPIC_BASE_URL {broker}/anthropic\nenv ANTHROPIC_API_KEY {phantom}\n"
	c.mustExec(t, "", "sh", "-c", `umask 022 && mkdir -p "$1" && chmod 0755 "$1" && printf %s "$2" > "$1/anthropic.provider"`,
		"sh", imageProviderDir, prov)
	t.Cleanup(func() {
		if _, errs, code := c.exec(t, "", "rm", "-f", imageProviderDir+"/anthropic.provider"); code != 0 {
			t.Errorf("removing the test's provider file: exit %d %s", code, errs)
			return
		}
		c.exec(t, "", "supervisorctl", "restart", "terok-vault")
		waitFor(t, c, "the vault back on the shipped anthropic", time.Minute, func() (bool, string) {
			out, errs, code := c.exec(t, "podman", "terok", "secret", "providers")
			return code == 0 && strings.Contains(out, "https://api.anthropic.com") && !strings.Contains(out, upstreamURL), out + errs
		})
	})
	c.mustExec(t, "", "supervisorctl", "restart", "terok-vault")
	waitFor(t, c, "the vault with the test's provider", time.Minute, func() (bool, string) {
		out, errs, code := c.exec(t, "podman", "terok", "secret", "providers")
		return code == 0 && strings.Contains(out, upstreamURL), out + errs
	})
	return fake, upstreamURL
}

// execStdin runs a command in the container as user with stdin on its
// standard input.
func (c *container) execStdin(t *testing.T, user, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := []string{"exec", "-i"}
	if user != "" {
		a = append(a, "-u", user)
	}
	cmd := exec.CommandContext(ctx, "docker", append(append(a, c.name), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	return testkit.Run(cmd)
}

// testImageCredentials proves the credential path in the shipped image: a
// key set with `terok secret set` (as podman, on standard input) reaches
// a fake provider over TLS, with the real key injected and never the
// phantom, only through the vault's broker, from a headless task of a
// project that names the provider; the task's log holds the fake's
// answer, its environment (podman inspect as podman) a phantom and the
// broker's address, its container the deny annotation for the provider's
// host; after the task ended the broker refuses its phantom.
func testImageCredentials(t *testing.T, c *container, ca *testkit.CA, vaultPort int) {
	waitFor(t, c, "the default task image", 3*time.Minute, func() (bool, string) {
		_, _, code := c.exec(t, "podman", "podman", "image", "exists", "localhost/terok-base:latest")
		return code == 0, c.mustExec(t, "", "tail", "-5", "/var/log/terok/podman-tasks.log")
	})
	fake, _ := startImageFake(t, c, ca)

	if out, errs, code := c.execStdin(t, "podman", imageRealKey+"\n", "terok", "secret", "set", "anthropic"); code != 0 ||
		!strings.Contains(out, "stored anthropic (global)") {
		t.Fatalf("terok secret set anthropic as podman: exit %d\n%s%s", code, out, errs)
	}
	c.mustExec(t, "podman", "terok", "project", "add", "keyed", "--cmd", imageCredentialsAgent, "--provider", "anthropic")
	id := strings.TrimSpace(c.mustExec(t, "podman", "terok", "task", "run", "keyed"))
	if out, errs, code := c.exec(t, "podman", "terok", "task", "wait", id); code != 0 {
		logs, _, _ := c.exec(t, "podman", "terok", "task", "logs", id)
		tl, _, _ := c.exec(t, "podman", "terok", "task", "timeline", id)
		t.Fatalf("terok task wait %s: exit %d\n%s%s\n--- task logs ---\n%s\n--- timeline ---\n%s\n--- the fake saw ---\n%+v",
			id, code, out, errs, logs, tl, fake.Requests())
	}
	logs := c.mustExec(t, "podman", "terok", "task", "logs", id)
	if !strings.Contains(logs, imageFakeAnswer) || !strings.Contains(logs, "broker-ok") {
		t.Fatalf("the task's log lacks the fake provider's answer:\n%s", logs)
	}

	// What the task held: a phantom and the broker, and the provider's
	// host denied.
	var task struct {
		Container string `json:"container"`
	}
	show := c.mustExec(t, "podman", "terok", "task", "show", id, "--json")
	if err := json.Unmarshal([]byte(show), &task); err != nil || task.Container == "" {
		t.Fatalf("terok task show %s --json: no container (%v)\n%s", id, err, show)
	}
	raw := c.mustExec(t, "podman", "podman", "inspect", "-f", "{{json .Config}}", task.Container)
	var cfg struct {
		Env         []string          `json:"Env"`
		Annotations map[string]string `json:"Annotations"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("podman inspect %s: %v\n%s", task.Container, err, raw)
	}
	env := map[string]string{}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	phantom := env["ANTHROPIC_API_KEY"]
	if !strings.HasPrefix(phantom, "sk-ant-api03-") || phantom == imageRealKey {
		t.Fatalf("the task's ANTHROPIC_API_KEY %q is no phantom", phantom)
	}
	if strings.Contains(raw, imageRealKey) {
		t.Errorf("podman inspect of the task's container holds the real key")
	}
	if base := env["ANTHROPIC_BASE_URL"]; !strings.HasSuffix(base, fmt.Sprintf(":%d/anthropic", vaultPort)) {
		t.Errorf("the task's ANTHROPIC_BASE_URL %q does not point at the broker's port %d", base, vaultPort)
	}
	if got := cfg.Annotations["terok.shield.deny"]; got != "127.0.0.1" {
		t.Errorf("the task's terok.shield.deny annotation %q, want the provider's host 127.0.0.1", got)
	}

	// The fake got exactly the task's one request, with the real key and
	// nowhere the phantom.
	reqs := fake.Requests()
	if len(reqs) != 1 || len(fake.Messages()) != 1 {
		t.Fatalf("the fake saw %d request(s), want the task's one POST /v1/messages: %+v", len(reqs), reqs)
	}
	if got := reqs[0].Header.Get("X-Api-Key"); got != imageRealKey {
		t.Errorf("the fake got x-api-key %q, want the real key", got)
	}
	for k, vs := range reqs[0].Header {
		for _, v := range vs {
			if strings.Contains(v, phantom) {
				t.Errorf("the fake got the phantom in %s", k)
			}
		}
	}
	for _, place := range []struct{ name, text string }{{"the task's log", logs}, {"terok task show --json", show}} {
		if strings.Contains(place.text, imageRealKey) {
			t.Errorf("%s holds the real key", place.name)
		}
	}

	// After the end: the phantom revoked, and the broker refuses it.
	waitFor(t, c, "the task's phantom revoked", time.Minute, func() (bool, string) {
		tl, errs, _ := c.exec(t, "podman", "terok", "task", "timeline", id)
		return strings.Contains(tl, "credentials: 1 phantom(s) revoked"), tl + errs
	})
	tl := c.mustExec(t, "podman", "terok", "task", "timeline", id)
	if !strings.Contains(tl, "credentials: 1 phantom(s) minted (anthropic)") ||
		!strings.Contains(tl, "credentials: the broker handled 1 request(s) of this task: 1 forwarded, 0 refused") {
		t.Errorf("the task's timeline lacks its credentials events:\n%s", tl)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/anthropic/v1/messages", vaultPort), strings.NewReader("{}"))
	req.Header.Set("X-Api-Key", phantom)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("the broker on 127.0.0.1:%d: %v", vaultPort, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the ended task's phantom at the broker: %d, want 401", resp.StatusCode)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("the fake saw %d request(s) after the refused phantom, want still 1", n)
	}
	if l := c.mustExec(t, "", "cat", "/var/log/terok/terok-vault.log", "/var/log/terok/terok-web.log"); strings.Contains(l, imageRealKey) {
		t.Errorf("a daemon's log holds the real key:\n%s", e2ekit.Tail(l, 20))
	}
	t.Logf("the fake saw %s %s with the real key; the task held a phantom (%s…) and %s", reqs[0].Method, reqs[0].Path, phantom[:16], env["ANTHROPIC_BASE_URL"])
}
