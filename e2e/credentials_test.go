package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit/fakemodel"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// credentialsAgent calls the provider through the broker the way an
// agent does (its base URL and key variables), after printing what the
// task holds: its environment and PID 1's.
const credentialsAgent = `set -e
env | sort > /workspace/task-env.txt
tr '\0' '\n' < /proc/1/environ >> /workspace/task-env.txt
cat /workspace/task-env.txt
curl -sS -f -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H "content-type: application/json" \
  -d '{"model":"fake","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' > /workspace/answer.json
cat /workspace/answer.json; echo
echo broker-ok`

// TestCredentials: a key set with `terok secret set` on standard input
// reaches a fake provider (TLS on loopback, root's provider file pointing
// the shipped anthropic at it) only through the vault's broker, from a
// task of a project that names the provider; the task holds a phantom,
// its container denies the provider's host, and after it ended its
// phantom is refused. The real key is nowhere else: the task's
// environment (podman inspect), its files and log, every daemon's log,
// the tree's files in plain text, the API's answers and the timeline.
func TestCredentials(t *testing.T) {
	tr := startTree(t)
	tr.waitRunning(t)
	// Leave no task containers behind in the test user's Podman.
	t.Cleanup(func() { removeTasks(t, tr) })
	importTaskImage(t, tr)
	up := upstream(t, tr)

	fake, _ := startFakeAnthropic(t, tr, "answer-of-the-fake-provider")

	real := realKey()
	set := func(args ...string) (string, int) { return secretSet(t, tr, real, args...) }
	if out, code := set("anthropic", real); code != 2 || strings.Contains(out, real) {
		t.Fatalf("a value on argv: exit %d\n%s", code, out)
	}
	if out, code := set("anthropic"); code != 0 || !strings.Contains(out, "stored anthropic (global), fingerprint") {
		t.Fatalf("secret set: exit %d\n%s", code, out)
	}
	if out := tr.mustTerok(t, "secret", "list"); !strings.Contains(out, "anthropic  global") {
		t.Fatalf("secret list:\n%s", out)
	}

	tr.mustTerok(t, "project", "add", "keyed", "--upstream", up, "--cmd", credentialsAgent, "--provider", "anthropic")
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "keyed"))
	if out, code := tr.terok(t, "task", "wait", id); code != 0 {
		logs, _ := tr.terok(t, "task", "logs", id)
		t.Fatalf("task wait: exit %d %s\n--- logs ---\n%s\n--- timeline ---\n%s", code, out, logs, tr.mustTerok(t, "task", "timeline", id))
	}
	logs := tr.mustTerok(t, "task", "logs", id)
	if !strings.Contains(logs, "answer-of-the-fake-provider") || !strings.Contains(logs, "broker-ok") {
		t.Fatalf("the task did not get the fake provider's answer:\n%s", logs)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].Header.Get("X-Api-Key") != real {
		t.Fatalf("the fake provider saw %d message requests; the key it got is the real one: %v", len(msgs), len(msgs) == 1 && msgs[0].Header.Get("X-Api-Key") == real)
	}

	// What the task held: a phantom and the broker at the gate's host,
	// and the provider's host denied.
	task := tr.taskJSON(t, id)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inspect, env, annotations := inspectEnv(t, tr, ctx, task.Container)
	phantom := env["ANTHROPIC_API_KEY"]
	if !strings.HasPrefix(phantom, "sk-ant-api03-") || phantom == real || !strings.HasSuffix(env["ANTHROPIC_BASE_URL"], "/anthropic") ||
		!strings.Contains(env["ANTHROPIC_BASE_URL"], "10.0.2.2:") {
		t.Fatalf("the task's variables: ANTHROPIC_API_KEY %q ANTHROPIC_BASE_URL %q", phantom, env["ANTHROPIC_BASE_URL"])
	}
	if got := annotations[shieldapi.AnnotationDeny]; got != "127.0.0.1" {
		t.Errorf("deny annotation %q, want the provider's host 127.0.0.1", got)
	}

	// After the end its phantom is refused by the broker.
	req, _ := http.NewRequest("POST", "http://"+tr.vaultAddr+"/anthropic/v1/messages", strings.NewReader("{}"))
	req.Header.Set("X-Api-Key", phantom)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the ended task's phantom: %d, want 401", resp.StatusCode)
	}
	tl := tr.mustTerok(t, "task", "timeline", id)
	if !strings.Contains(tl, "credentials: 1 phantom(s) minted (anthropic)") || !strings.Contains(tl, "credentials: 1 phantom(s) revoked") ||
		!strings.Contains(tl, "credentials: the broker handled 1 request(s) of this task: 1 forwarded, 0 refused") {
		t.Errorf("timeline:\n%s", tl)
	}

	// Nowhere else: every place the key could have gone.
	where, files := huntKey(t, tr, real, "keyed", id, task.Container,
		map[string]string{"podman inspect": inspect, "task log": logs, "timeline": tl})
	// terok health and daemons status list the vault.
	if h := where["terok health --json"]; !strings.Contains(h, `"daemon": "vault"`) || !strings.Contains(h, `"name": "terok-vault"`) {
		t.Errorf("terok health lacks the vault:\n%s", h)
	}
	if st := where["terok daemons status --json"]; !strings.Contains(st, `"name": "terok-vault"`) {
		t.Errorf("terok daemons status lacks the vault:\n%s", st)
	}
	volume := filepath.Join(podmanStorage(t), "volumes", "terok-ws-keyed-"+id)
	ws, err := os.ReadFile(filepath.Join(volume, "_data", "task-env.txt"))
	if err != nil || !bytes.Contains(ws, []byte("ANTHROPIC_API_KEY="+phantom)) {
		t.Errorf("the walk missed the task's workspace (task-env.txt: %v)", err)
	}
	t.Logf("looked for the real key in %d files and %d answers and logs", files, len(where))
}

// startFakeAnthropic serves a fake Anthropic-Messages provider (fakemodel,
// answering answer) over TLS on loopback with the tree's test CA, and
// points the vault's anthropic at it the way root would: a provider file
// of its own under <config>/system/vault/providers replacing the shipped
// one, then a restart of the vault. It returns the fake and its URL.
func startFakeAnthropic(t *testing.T, tr *tree, answer string) (*fakemodel.Server, string) {
	t.Helper()
	fake := &fakemodel.Server{Answer: answer}
	ln, err := tr.ca.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	upstreamURL := fmt.Sprintf("https://127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)
	dir := filepath.Join(tr.dev, "config", "system", "vault", "providers")
	os.MkdirAll(dir, 0o755)
	prov := "# The fake provider of this test.\nupstream " + upstreamURL + "\ninject x-api-key\naccept x-api-key\naccept Authorization Bearer\n" +
		"phantom sk-ant-api03-{base64url:93}AA\nroute POST /v1/messages\nroute POST /v1/messages/count_tokens\nroute GET /v1/models\n" +
		"env ANTHROPIC_BASE_URL {broker}/anthropic\nenv ANTHROPIC_API_KEY {phantom}\n"
	if err := os.WriteFile(filepath.Join(dir, "anthropic.provider"), []byte(prov), 0o644); err != nil {
		t.Fatal(err)
	}
	tr.supervisorctl(t, "restart", "terok-vault")
	waitFor(t, "the vault with the test's provider", 60*time.Second, func() bool {
		out, code := tr.terok(t, "secret", "providers")
		return code == 0 && strings.Contains(out, upstreamURL)
	})
	return fake, upstreamURL
}

// realKey is a fresh real-looking Anthropic key, unique to the run.
func realKey() string {
	var b [24]byte
	rand.Read(b[:])
	return "sk-ant-api03-REAL" + hex.EncodeToString(b[:])
}

// secretSet runs terok secret set with args, the value on standard input.
func secretSet(t *testing.T, tr *tree, value string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(tr.root, "bin", "terok"), append([]string{"secret", "set"}, args...)...)
	cmd.Env, cmd.Stdin = tr.env(), strings.NewReader(value+"\n")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// podmanStorage is the e2e user's Podman storage directory.
func podmanStorage(t *testing.T) string {
	t.Helper()
	u, err := user.Lookup(e2eUser)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(u.HomeDir, ".local", "share", "containers", "storage")
}

// huntKey fails t wherever the real key is found: in where (texts the
// test gathered), the supervisor's output, the API's answers about the
// task and project, every daemon's log, and in plain text in the tree's
// directories and the task's own files (its workspace volume and
// container directory). It returns every text it looked in and how many
// files it read.
func huntKey(t *testing.T, tr *tree, real, project, id, container string, where map[string]string) (map[string]string, int) {
	t.Helper()
	where["supervisor's output"] = tr.out.String()
	for _, args := range [][]string{{"task", "show", id, "--json"}, {"task", "timeline", id, "--json"}, {"task", "list", "--json"},
		{"project", "show", project, "--json"}, {"secret", "list", "--json"}, {"secret", "providers", "--json"},
		{"daemons", "status", "--json"}, {"health", "--json"}} {
		out, _ := tr.terok(t, args...)
		where["terok "+strings.Join(args, " ")] = out
	}
	var ds []webapi.Daemon
	json.Unmarshal([]byte(where["terok daemons status --json"]), &ds)
	if len(ds) == 0 {
		t.Fatalf("daemons status: %s", where["terok daemons status --json"])
	}
	for _, d := range ds {
		out, _ := tr.terok(t, "daemons", "log", d.Name, "--bytes", "67108864")
		where["terok daemons log "+d.Name] = out
	}
	for place, text := range where {
		if strings.Contains(text, real) {
			t.Errorf("%s holds the real key", place)
		}
	}
	storage := podmanStorage(t)
	roots := []string{tr.dev, filepath.Join(storage, "volumes", "terok-ws-"+project+"-"+id), filepath.Join(storage, "overlay-containers", container)}
	files := 0
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			data, _ := io.ReadAll(io.LimitReader(f, 256<<20))
			files++
			if bytes.Contains(data, []byte(real)) {
				t.Errorf("%s holds the real key", p)
			}
			return nil
		})
	}
	return where, files
}

// inspectEnv is Podman's inspect answer for a container (raw) with its
// environment and annotations.
func inspectEnv(t *testing.T, tr *tree, ctx context.Context, container string) (string, map[string]string, map[string]string) {
	t.Helper()
	raw := rawInspect(t, tr, ctx, container)
	var ct struct {
		Config struct {
			Env         []string          `json:"Env"`
			Annotations map[string]string `json:"Annotations"`
		} `json:"Config"`
	}
	if err := json.Unmarshal([]byte(raw), &ct); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range ct.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return raw, env, ct.Config.Annotations
}
