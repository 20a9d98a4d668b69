package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/seal"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// TestBroker runs the real vault against a fake provider on loopback: the
// real key reaches the provider and the phantom never does; a revoked,
// unknown or foreign phantom is 401, a route outside the list 403; the
// task's audit counts it all; and the real values are nowhere but in the
// provider's requests: not in the vault's output, an answer of its API or
// the broker, nor in the clear in its files.
func TestBroker(t *testing.T) {
	e := newEnv(t)
	e.start()
	realA, realB := secretValue("sk-real-a-"), secretValue("sk-real-b-")
	if out, errOut, code := e.cli(realA+"\n", "secret", "set", "fake"); code != 0 || !strings.Contains(out, "stored fake (global), fingerprint ") {
		t.Fatalf("secret set: %d %q %q", code, out, errOut)
	}
	if _, _, code := e.cli(realB, "secret", "set", "fakeb", "-", "--project", "demo"); code != 0 {
		t.Fatal("secret set fakeb")
	}
	out, _, code := e.cli("", "phantom", "mint", "--json", "--project", "demo", "--task", "task-a", "fake", "fakeb")
	if code != 0 {
		t.Fatalf("mint: %s", out)
	}
	var a []vaultapi.Phantom
	mustJSON(t, json.Unmarshal([]byte(out), &a), "mint answer")
	if len(a) != 2 || !strings.HasPrefix(a[0].Token, "sk-fake-") || !strings.HasPrefix(a[1].Token, "sk-fakeb-") || a[0].PathPrefix != "/fake" {
		t.Fatalf("minted %+v", a)
	}
	phA, phAb := a[0].Token, a[1].Token
	b, err := e.client.MintPhantoms(ctx(t), "demo", "task-b", []string{"fake"})
	mustJSON(t, err, "mint b")
	phB := b[0].Token

	// Forwarded: the real key arrives, the phantom and the agent's other
	// credentials do not; the upstream's cookie does not come back.
	status, body := e.call("POST", "/fake/v1/messages", map[string]string{"X-Api-Key": phA,
		"Cookie": "session=agent", "X-Note": "hello"}, `{"model":"m"}`)
	if status != 200 || body != `{"ok":true}` {
		t.Fatalf("forwarded: %d %s\n%s", status, body, e.out.String())
	}
	reqs := e.up.Requests()
	got := reqs[len(reqs)-1]
	if got.Header.Get("X-Api-Key") != realA || got.Path != "/v1/messages" || got.Header.Get("Cookie") != "" ||
		got.Header.Get("X-Note") != "hello" || got.Body != `{"model":"m"}` || got.Header.Get("X-Forwarded-For") != "" {
		t.Errorf("the provider received %+v", got)
	}
	// A phantom in a bearer header: taken, and the provider's own header set.
	status, _ = e.call("GET", "/fake/v1/models", map[string]string{"Authorization": "Bearer " + phA}, "")
	if status != 200 {
		t.Errorf("bearer: %d", status)
	}
	// The project's own key for fakeb (project demo), as a bearer token.
	status, _ = e.call("POST", "/fakeb/v1/messages", map[string]string{"Authorization": "Bearer " + phAb}, "{}")
	reqs = e.up.Requests()
	if status != 200 || reqs[len(reqs)-1].Header.Get("Authorization") != "Bearer "+realB {
		t.Errorf("fakeb: %d, provider got %q", status, reqs[len(reqs)-1].Header.Get("Authorization"))
	}
	for _, r := range e.up.Requests() {
		for _, ph := range []string{phA, phAb, phB} {
			if strings.Contains(r.RawQuery+r.Body+headerText(r.Header), ph) {
				t.Errorf("a phantom reached the provider: %+v", r)
			}
		}
	}
	forwarded := len(e.up.Requests())

	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		want               string
	}{
		{"route outside the list", "DELETE", "/fake/v1/models", map[string]string{"X-Api-Key": phA}, 403, "DELETE /v1/models is not a route of provider fake"},
		{"admin path", "POST", "/fake/v1/organizations/x", map[string]string{"X-Api-Key": phA}, 403, "not a route"},
		{"dot segments", "POST", "/fake/v1/x/../messages", map[string]string{"X-Api-Key": phA}, 400, ""},
		{"escaped slash", "POST", "/fake/v1%2fmessages", map[string]string{"X-Api-Key": phA}, 400, "escaped"},
		{"no phantom", "POST", "/fake/v1/messages", nil, 401, "no phantom token"},
		{"unknown phantom", "POST", "/fake/v1/messages", map[string]string{"X-Api-Key": "sk-fake-" + strings.Repeat("A", 40)}, 401, "unknown phantom"},
		{"task A's phantom for provider B", "POST", "/fakeb/v1/messages", map[string]string{"Authorization": "Bearer " + phA}, 401, "belongs to provider fake, not fakeb"},
		{"unknown provider", "POST", "/nope/v1/messages", map[string]string{"X-Api-Key": phA}, 404, "no provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.call(tc.method, tc.path, tc.hdr, "{}")
			var eb unixhttp.ErrorBody
			if status != tc.status || json.Unmarshal([]byte(body), &eb) != nil || eb.Error == "" || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s; want %d with a JSON body holding %q", status, body, tc.status, tc.want)
			}
		})
	}

	// Task A ends: its phantoms are refused, task B's still work.
	n, err := e.client.RevokeTask(ctx(t), "demo", "task-a")
	if err != nil || n != 2 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if status, body := e.call("POST", "/fake/v1/messages", map[string]string{"X-Api-Key": phA}, "{}"); status != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("revoked phantom: %d %s", status, body)
	}
	if status, _ := e.call("POST", "/fake/v1/messages", map[string]string{"X-Api-Key": phB}, "{}"); status != 200 {
		t.Errorf("task B after task A ended: %d", status)
	}
	if got := len(e.up.Requests()); got != forwarded+1 {
		t.Errorf("a refused request reached the provider (%d requests, want %d)", got, forwarded+1)
	}

	// The audit of task A: what was forwarded and what refused, by status.
	rep, err := e.client.Audit(ctx(t), "demo", "task-a", 100)
	mustJSON(t, err, "audit")
	c := rep.Counts
	// (The 400s and the unknown provider were refused before a phantom
	// was looked at: the daemon's log has them, no task's audit.)
	if c.Forwarded != 3 || c.Refused != 4 || c.ByStatus["403"] != 2 || c.ByStatus["401"] != 2 || c.ByProvider["fakeb"] != 2 || len(rep.Entries) != 7 {
		t.Errorf("audit counts %+v (entries %d)", c, len(rep.Entries))
	}
	if rep.Entries[0].Method != "POST" || rep.Entries[0].Path != "/v1/messages" || rep.Entries[0].Status != 200 || rep.Entries[0].BytesOut != int64(len(`{"ok":true}`)) {
		t.Errorf("first entry %+v", rep.Entries[0])
	}

	// Every answer of the API, as JSON.
	for _, args := range [][]string{{"secret", "list", "--json"}, {"providers", "list", "--json"}, {"phantom", "list", "--json"},
		{"audit", "demo", "task-a", "--json"}, {"secret", "list"}, {"audit", "demo", "task-a"}} {
		if _, _, code := e.cli("", args...); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	st, _ := e.client.Health(ctx(t))
	hb, _ := json.Marshal(st)
	e.answered.Write(hb)
	e.stop()
	for _, v := range []string{realA, realB} {
		if strings.Contains(e.out.String(), v) {
			t.Errorf("the vault's output holds a real key")
		}
		if strings.Contains(e.answered.String(), v) {
			t.Errorf("an answer of the vault holds a real key")
		}
		if hits := grepTree(t, e.base, v); len(hits) > 0 {
			t.Errorf("files hold a real key in the clear: %v", hits)
		}
	}
	for _, ph := range []string{phA, phAb, phB} {
		if hits := grepTree(t, e.base, ph); len(hits) > 0 {
			t.Errorf("files hold a phantom token: %v", hits)
		}
		if strings.Contains(e.out.String(), ph) {
			t.Errorf("the vault's log holds a phantom token")
		}
	}
}

func headerText(h http.Header) string {
	var b strings.Builder
	for k, vs := range h {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return b.String()
}

// TestStreaming: a server-sent-events answer reaches the client event by
// event: the first event arrives while the provider still holds the rest.
func TestStreaming(t *testing.T) {
	e := newEnv(t)
	e.start()
	if _, _, code := e.cli(secretValue("sk-"), "secret", "set", "fake"); code != 0 {
		t.Fatal("secret set")
	}
	ph, err := e.client.MintPhantoms(ctx(t), "demo", "t1", []string{"fake"})
	mustJSON(t, err, "mint")
	req, _ := http.NewRequest("POST", e.broker+"/fake/v1/messages?beta=true", strings.NewReader(`{"stream":true}`))
	req.Header.Set("X-Api-Key", ph[0].Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	second, _ := rd.ReadString('\n')
	if err != nil || first != "event: message_start\n" || !strings.Contains(second, `"first"`) {
		t.Fatalf("first event: %q %q %v", first, second, err)
	}
	// Only now may the provider finish.
	e.up.Release()
	rest := new(strings.Builder)
	for {
		l, err := rd.ReadString('\n')
		rest.WriteString(l)
		if err != nil {
			break
		}
	}
	if strings.Count(rest.String(), "content_block_delta") != 3 || !strings.Contains(rest.String(), "message_stop") {
		t.Errorf("rest of the stream: %q", rest.String())
	}
	reqs := e.up.Requests()
	if reqs[len(reqs)-1].RawQuery != "beta=true" {
		t.Errorf("query %q", reqs[len(reqs)-1].RawQuery)
	}
	// The access line of the stream (kit's middleware, which the stream
	// went through): its path without the query, no phantom, no key.
	want := `"listener":"broker","method":"POST","path":"/fake/v1/messages","status":200`
	for i := 0; i < 100 && !strings.Contains(e.out.String(), want); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if out := e.out.String(); !strings.Contains(out, want) || strings.Contains(out, ph[0].Token) || strings.Contains(out, "sk-") {
		t.Errorf("want an access line %s and no secret in the vault's log:\n%s", want, out)
	}
}

// TestKill9 kills the vault mid-task: after a restart on the same state,
// the live phantom still works and the revoked one stays revoked.
func TestKill9(t *testing.T) {
	e := newEnv(t)
	e.start()
	if _, _, code := e.cli(secretValue("sk-"), "secret", "set", "fake"); code != 0 {
		t.Fatal("secret set")
	}
	live, err := e.client.MintPhantoms(ctx(t), "demo", "live", []string{"fake"})
	mustJSON(t, err, "mint")
	ended, err := e.client.MintPhantoms(ctx(t), "demo", "ended", []string{"fake"})
	mustJSON(t, err, "mint")
	if _, err := e.client.RevokeTask(ctx(t), "demo", "ended"); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.call("POST", "/fake/v1/messages", map[string]string{"X-Api-Key": live[0].Token}, "{}"); status != 200 {
		t.Fatalf("before: %d", status)
	}
	// The audit line is written behind the answer; a crash right after an
	// answer may lose it (docs/credentials.md). Let it land first.
	auditFile := filepath.Join(e.state, "system", "vault", "audit", "demo", "live.jsonl")
	for i := 0; i < 100; i++ { // bounded: 10 s
		if b, _ := os.ReadFile(auditFile); len(b) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.kill9()
	e.start()
	if status, body := e.call("POST", "/fake/v1/messages", map[string]string{"X-Api-Key": live[0].Token}, "{}"); status != 200 {
		t.Errorf("live phantom after kill -9: %d %s", status, body)
	}
	if status, body := e.call("POST", "/fake/v1/messages", map[string]string{"X-Api-Key": ended[0].Token}, "{}"); status != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("ended phantom after kill -9: %d %s", status, body)
	}
	rep, err := e.client.Audit(ctx(t), "demo", "live", 10)
	if err != nil || rep.Counts.Forwarded != 2 {
		t.Errorf("audit across the restart: %+v %v", rep.Counts, err)
	}
}

// TestBadInput: what the vault refuses, and that it says why.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.start()
	value := secretValue("sk-onargv-")
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"unknown provider", "sk-x", []string{"secret", "set", "nope"}, 4, `unknown provider "nope" (known: anthropic, fake, fakeb, gemini, openai)`},
		{"empty value", "\n", []string{"secret", "set", "fake"}, 1, "the value is empty; nothing was stored"},
		{"value on argv", "", []string{"secret", "set", "fake", value}, 2, "a secret on the command line is refused"},
		{"two words", "sk-a sk-b", []string{"secret", "set", "fake"}, 1, "a space, a control character"},
		{"bad project", "sk-x", []string{"secret", "set", "fake", "--project", "../x"}, 1, "project"},
		{"rm of nothing", "", []string{"secret", "rm", "fake"}, 4, "no credential stored"},
		{"mint unknown provider", "", []string{"phantom", "mint", "--project", "p", "--task", "t", "nope"}, 4, "unknown provider"},
		{"login without a declared flow", "", []string{"secret", "login", "fake"}, 1, "has no \"device\" login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := e.cli(tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, %q %q; want %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
	if strings.Contains(e.answered.String(), value) {
		t.Error("the refusal of a value on argv repeats the value")
	}
	if _, err := e.client.SetSecret(ctx(t), "fake", "", ""); !errors.Is(err, unixhttp.ErrBadRequest) {
		t.Errorf("API, empty value: %v", err)
	}
	if list, _ := e.client.ListSecrets(ctx(t), ""); len(list) != 0 {
		t.Errorf("refused values were stored: %+v", list)
	}
	e.stop()

	// A corrupt key file: the vault refuses to start, names it, and
	// changes nothing.
	keyPath := filepath.Join(e.conf, "system", "vault", "vault.key")
	storePath := filepath.Join(e.state, "system", "vault", "secrets.json")
	e.start()
	if _, _, code := e.cli("sk-kept", "secret", "set", "fake"); code != 0 {
		t.Fatal("secret set")
	}
	e.stop()
	store, _ := os.ReadFile(storePath)
	os.WriteFile(keyPath, []byte("this is not a key\n"), 0o600)
	if os.Geteuid() == 0 {
		os.Chown(keyPath, 65534, 65534)
	}
	out, code := e.serveOnce()
	if code != 2 || !strings.Contains(out, keyPath) || !strings.Contains(out, "not a vault key") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("corrupt key: exit %d\n%s", code, out)
	}
	if k, _ := os.ReadFile(keyPath); string(k) != "this is not a key\n" {
		t.Error("the corrupt key file was overwritten")
	}
	// A wrong (valid) key given by the operator: refused naming the store.
	wrong := filepath.Join(e.base, "wrong.key")
	other, _ := seal.Generate()
	os.WriteFile(wrong, seal.Encode(other), 0o400)
	out, code = e.serveOnce("TEROK_VAULT_KEY_FILE=" + wrong)
	if code != 2 || !strings.Contains(out, storePath) || !strings.Contains(out, "sealed with key") || !strings.Contains(out, "the key in "+wrong) {
		t.Errorf("wrong key: exit %d\n%s", code, out)
	}
	if after, _ := os.ReadFile(storePath); string(after) != string(store) {
		t.Error("the store was changed by a refused start")
	}
}

// TestHostilePlantedProvider: a provider file decides where a real key is
// sent, so one that another user than root (or the vault's) could have
// written is refused, and the vault does not start.
func TestHostilePlantedProvider(t *testing.T) {
	testkit.RequireRoot(t)
	e := newEnv(t)
	e.writeProvider("evil", "upstream https://attacker.example\ninject x-api-key\nphantom sk-{alnum:40}\nroute POST /v1/messages\n")
	planted := filepath.Join(e.providersDir(), "evil.provider")
	os.Chown(planted, 1234, 1234) // a user that is neither root nor the vault's
	out, code := e.serveOnce()
	if code != 2 || !strings.Contains(out, planted) || !strings.Contains(out, "belongs to uid 1234") {
		t.Errorf("planted file: exit %d\n%s", code, out)
	}
	os.Chown(planted, 0, 0)
	os.Chmod(planted, 0o666)
	out, code = e.serveOnce()
	if code != 2 || !strings.Contains(out, "may be written by group or others") {
		t.Errorf("writable file: exit %d\n%s", code, out)
	}
	os.Chmod(planted, 0o644)
	os.Chmod(e.providersDir(), 0o777)
	out, code = e.serveOnce()
	if code != 2 || !strings.Contains(out, e.providersDir()) {
		t.Errorf("writable directory: exit %d\n%s", code, out)
	}
	os.Chmod(e.providersDir(), 0o755)
	os.WriteFile(planted, []byte("upstream https://x.example\nredirect-to https://attacker.example\n"), 0o644)
	out, code = e.serveOnce()
	if code != 2 || !strings.Contains(out, planted+":2: unknown directive \"redirect-to\"") {
		t.Errorf("bad file: exit %d\n%s", code, out)
	}
}

// TestHostileVaultDirOfAnotherUser: the vault's directory handed to
// another user (the entrypoint's recursive chown, or a user who renamed
// system/ away and made their own) is refused, not used.
func TestHostileVaultDirOfAnotherUser(t *testing.T) {
	testkit.RequireRoot(t)
	e := newEnv(t)
	e.start()
	e.stop()
	dir := filepath.Join(e.state, "system", "vault")
	os.Chown(dir, 1234, 1234)
	out, code := e.serveOnce()
	if code != 2 || !strings.Contains(out, dir+" belongs to uid 1234") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestRootNeedsAUser: as root the vault will not run without a user of
// its own to drop to.
func TestRootNeedsAUser(t *testing.T) {
	testkit.RequireRoot(t)
	e := newEnv(t)
	out, code := e.serveOnceArgs([]string{"serve", "--listen", "127.0.0.1:0"})
	if code != 2 || !strings.Contains(out, "needs a user of its own") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestSecretWritersRoot: with secret writers = root, a member of the
// socket's group (terok-web's user) may mint phantoms but neither set nor
// remove a secret; root may.
func TestSecretWritersRoot(t *testing.T) {
	testkit.RequireRoot(t)
	e := newEnv(t)
	os.Chmod(e.base, 0o711) // the member must reach the binary and the socket
	e.extraArgs = []string{"--secret-writers", "root"}
	e.start()
	// uid 1234 in the socket's group (nogroup, the vault user's group).
	asMember := func(stdin string, args ...string) (string, int) {
		cmd := exec.Command(e.bin, args...)
		cmd.Env = e.environ()
		cmd.Stdin = strings.NewReader(stdin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1234, Gid: 65534}}
		out, errOut, code := testkit.Run(cmd)
		return out + errOut, code
	}
	if out, code := asMember("sk-x", "secret", "set", "fake"); code != 1 || !strings.Contains(out, "only root may set or remove secrets") {
		t.Errorf("member set: %d %s", code, out)
	}
	if out, code := asMember("", "phantom", "mint", "--project", "p", "--task", "t", "fake"); code != 0 {
		t.Errorf("member mint: %d %s", code, out)
	}
	if _, _, code := e.cli("sk-root", "secret", "set", "fake"); code != 0 {
		t.Error("root could not set a secret")
	}
	if out, code := asMember("", "secret", "rm", "fake"); code != 1 || !strings.Contains(out, "only root") {
		t.Errorf("member rm: %d %s", code, out)
	}
	if out, code := asMember("", "secret", "list"); code != 0 || !strings.Contains(out, "fake") {
		t.Errorf("member list: %d %s", code, out)
	}
}

// TestGivenKeyFile: a key the operator gives (a Docker secret readable by
// root only) is read before root is dropped; no key is generated, and the
// vault warns when the key shares the store's filesystem.
func TestGivenKeyFile(t *testing.T) {
	e := newEnv(t)
	key, _ := seal.Generate()
	keyFile := filepath.Join(e.base, "vault-key.secret")
	os.WriteFile(keyFile, seal.Encode(key), 0o400)
	e.extraEnv = []string{"TEROK_VAULT_KEY_FILE=" + keyFile}
	e.start()
	if _, _, code := e.cli("sk-given", "secret", "set", "fake"); code != 0 {
		t.Fatal("secret set")
	}
	st, err := e.client.Health(ctx(t))
	if err != nil || st.Details["key"] != "given in "+keyFile {
		t.Errorf("health %+v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(e.conf, "system", "vault", "vault.key")); !os.IsNotExist(err) {
		t.Errorf("a key was generated beside the given one: %v", err)
	}
	if !strings.Contains(e.out.String(), "sits on the same filesystem as the encrypted store") {
		t.Errorf("no warning about the key beside the store:\n%s", e.out.String())
	}
	e.stop()
	// The same key again opens the store.
	e.start()
	if list, err := e.client.ListSecrets(ctx(t), ""); err != nil || len(list) != 1 || list[0].Problem != "" {
		t.Errorf("after restart: %+v %v", list, err)
	}
}

// TestHostileSocketInPlace: in the image the tree's user owns the run
// directory, so it could put a socket of its own where vault.sock is to
// catch a secret root sets. The CLI does not send a value to a socket of
// any other user than root, the caller or the vault's.
func TestHostileSocketInPlace(t *testing.T) {
	testkit.RequireRoot(t)
	e := newEnv(t)
	e.start()
	e.stop()
	sock := filepath.Join(e.run, "vault.sock")
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	caught := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		caught <- string(b[:n])
		c.Close()
	}()
	os.Chown(sock, 1234, 1234)
	value := secretValue("sk-caught-")
	_, errOut, code := e.cli(value, "secret", "set", "fake")
	if code != 1 || !strings.Contains(errOut, "belongs to uid 1234") {
		t.Errorf("exit %d %q; want 1 naming the owner", code, errOut)
	}
	select {
	case got := <-caught:
		if strings.Contains(got, value) {
			t.Fatal("the value was sent to the planted socket")
		}
	case <-time.After(500 * time.Millisecond):
	}
}
