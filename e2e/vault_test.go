package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProvider is a provider API on loopback over TLS (the tree's test CA)
// that records the key each request brought.
type fakeProvider struct {
	url  string
	mu   sync.Mutex
	keys []string
}

func startFakeProvider(t *testing.T, tr *tree) *fakeProvider {
	t.Helper()
	ln, err := tr.ca.Listen()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeProvider{url: "https://" + ln.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.keys = append(f.keys, r.Header.Get("X-Api-Key"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *fakeProvider) lastKey() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.keys) == 0 {
		return ""
	}
	return f.keys[len(f.keys)-1]
}

// testVault runs terok-vault as the tree runs it (started as root, then
// its own user terok-vault, under the supervisor): a root-added provider,
// a secret set through the CLI, a task's phantom swapped for the real key
// on the way to a fake provider; then kill -9 of the vault: the supervisor
// starts it again, the live phantom still works, the ended one stays
// refused.
func testVault(t *testing.T, tr *tree) {
	fake := startFakeProvider(t, tr)
	// Root adds a provider in the vault's own directory, then restarts it.
	dir := filepath.Join(tr.dev, "config", "system", "vault", "providers")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "fake.provider"), []byte("upstream "+fake.url+
		"\ninject x-api-key\nphantom sk-fake-{base64url:40}\nroute POST /v1/messages\n"), 0o644)
	tr.supervisorctl(t, "restart", "terok-vault")

	// Its directories belong to terok-vault, not to the tree's user.
	for _, d := range []string{filepath.Join(tr.dev, "config", "system", "vault"), filepath.Join(tr.dev, "state", "system", "vault")} {
		out, err := exec.Command("stat", "-c", "%U %a", d).Output()
		if err != nil || strings.TrimSpace(string(out)) != "terok-vault 700" {
			t.Errorf("%s: %q %v; want terok-vault 700", d, out, err)
		}
	}
	pid := tr.programPID(t, "terok-vault")
	if out, err := exec.Command("ps", "-o", "user=", "-p", strconv.Itoa(pid)).Output(); err != nil || strings.TrimSpace(string(out)) != "terok-vault" {
		t.Errorf("the vault runs as %q (%v), want terok-vault", out, err)
	}

	var b [16]byte
	rand.Read(b[:])
	real := "sk-real-" + hex.EncodeToString(b[:])
	cmd := exec.Command(filepath.Join(tr.root, "bin", "terok-vault"), "secret", "set", "fake")
	cmd.Env, cmd.Stdin = tr.env(), strings.NewReader(real+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	mint := func(task string) string {
		out, code := tr.bin(t, "terok-vault", "phantom", "mint", "--json", "--project", "demo", "--task", task, "fake")
		var ph []struct{ Token string }
		if code != 0 || json.Unmarshal([]byte(out), &ph) != nil || len(ph) != 1 {
			t.Fatalf("mint: %d %s", code, out)
		}
		return ph[0].Token
	}
	live, ended := mint("live"), mint("ended")
	if out, code := tr.bin(t, "terok-vault", "phantom", "revoke", "--project", "demo", "--task", "ended"); code != 0 {
		t.Fatalf("revoke: %s", out)
	}
	call := func(tok string) int {
		req, _ := http.NewRequest("POST", "http://"+tr.vaultAddr+"/fake/v1/messages", strings.NewReader("{}"))
		req.Header.Set("X-Api-Key", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("broker: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := call(live); st != 200 || fake.lastKey() != real {
		t.Fatalf("through the broker: %d, the provider got %q", st, fake.lastKey())
	}

	// kill -9: the supervisor starts it again (autorestart = unexpected).
	if err := exec.Command("kill", "-9", strconv.Itoa(pid)).Run(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the vault restarted by the supervisor", 60*time.Second, func() bool {
		out, code := tr.bin(t, "supervisorctl", "-s", "unix://"+tr.run+"/supervisor.sock", "pid", "terok-vault")
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		if code != 0 || n == 0 || n == pid {
			return false
		}
		_, hc := tr.bin(t, "terok-vault", "secret", "list")
		return hc == 0
	})
	if st := call(live); st != 200 || fake.lastKey() != real {
		t.Errorf("live phantom after kill -9: %d", st)
	}
	if st := call(ended); st != 401 {
		t.Errorf("ended phantom after kill -9: %d, want 401", st)
	}
	log, _ := os.ReadFile(filepath.Join(tr.dev, "log", "terok-vault.log"))
	if strings.Contains(string(log)+tr.out.String(), real) {
		t.Error("the vault's log holds the real key")
	}
}

// programPID asks the supervisor for a program's pid.
func (tr *tree) programPID(t *testing.T, name string) int {
	t.Helper()
	out := tr.supervisorctl(t, "pid", name)
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || n == 0 {
		t.Fatalf("pid of %s: %q", name, out)
	}
	return n
}
