package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func listTree(t *testing.T, root string) []string {
	var out []string
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(root, p)
			if !strings.HasPrefix(rel, "repos/proj.git/") { // git may touch files inside
				out = append(out, rel)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestAuthAndPathStatuses(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seed(t, g, gr, "proj")
	g.createRepo("other")
	tok := g.mint("proj", "t1")
	otherTok := g.mint("other", "t1")
	refs := "/proj.git/info/refs?service=git-upload-pack"
	get := func(path, auth string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + auth + "Connection: close\r\n\r\n"
	}
	before := listTree(t, g.cfg.Root)

	cases := []struct {
		name, req string
		status    int
		body      string
	}{
		{"no token", get(refs, ""), 401, "terok-gate: a gate token is required: use http://<token>@<host>:9418/proj.git\n"},
		{"unknown token", get(refs, basic("terok-g-00000000000000000000000000000000")), 403, "terok-gate: unknown or revoked gate token: "},
		{"garbage auth", get(refs, "Authorization: Basic !!!\r\n"), 401, "terok-gate: a gate token is required"},
		{"token as password only", get(refs, "Authorization: Basic "+b64(":"+tok)+"\r\n"), 403,
			"terok-gate: the gate token goes in the user name, not the password: use http://<token>@<host>:9418/proj.git\n"},
		{"revoked-like prefix", get(refs, basic(tok[:len(tok)-1])), 403, "terok-gate: unknown or revoked gate token"},
		{"other project", get(refs, basic(otherTok)), 403, "terok-gate: this token is for project other, not proj\n"},
		{"unknown repo, admin", get("/nope.git/info/refs?service=git-upload-pack", basic(g.admin)), 404, "terok-gate: no repository nope on this gate\n"},
		{"unknown repo, task", get("/nope.git/info/refs?service=git-upload-pack", basic(tok)), 403, "terok-gate: this token is for project proj, not nope\n"},
		{"traversal", get("/../x.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: path "/../x.git/info/refs": use /<project>.git/…`},
		{"traversal in name", get("/..%2fx.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: path "/../x.git/info/refs": use /<project>.git/…`},
		{"encoded dots", get("/%2e%2e.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: bad name: project ".." must not contain ".."`},
		{"absolute", get("//etc/passwd.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: path "//etc/passwd.git/info/refs": use /<project>.git/…`},
		{"nul", get("/pr%00oj.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: bad name: project "pr\x00oj" may only hold letters, digits, '.', '_' and '-'`},
		{"odd chars", get("/pr%20oj.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: bad name: project "pr oj" may only hold letters, digits, '.', '_' and '-'`},
		{"no .git", get("/proj/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: path "/proj/info/refs": use /<project>.git/…, e.g. git clone http://<token>@host:9418/<project>.git`},
		{"hidden", get("/.proj.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: bad name: project ".proj" must not start with '.' or '-'`},
		{"doubled .git", get("/proj.git.git/info/refs?service=git-upload-pack", basic(g.admin)), 400, `terok-gate: bad name: project "proj.git" must not end in ".git": the gate adds it in clone URLs (…/proj.git); name the project "proj"`},
		{"dumb http", get("/proj.git/info/refs", basic(g.admin)), 400, "terok-gate: info/refs needs ?service=git-upload-pack or git-receive-pack; the gate speaks smart HTTP only\n"},
		{"bad service", get("/proj.git/info/refs?service=git-shell", basic(g.admin)), 400, "terok-gate: info/refs needs ?service=git-upload-pack or git-receive-pack"},
		{"objects path", get("/proj.git/objects/info/packs", basic(g.admin)), 404, "terok-gate: no GET objects/info/packs on proj.git\n"},
		{"bad Git-Protocol", get(refs, basic(tok)+"Git-Protocol: version=2;$(x)\r\n"), 400, "terok-gate: bad Git-Protocol header\n"},
		// A control character never reaches the gate: Go's server refuses it.
		{"control char in a header", get(refs, basic(tok)+"Git-Protocol: version=2\x01\r\n"), 400, "400 Bad Request"},
		{"ok v0", get(refs, basic(tok)), 200, "# service=git-upload-pack"},
		{"ok HEAD", get("/proj.git/HEAD", basic(tok)), 200, "ref: refs/heads/main"},
	}
	for _, c := range cases {
		status, body := g.raw(c.req)
		if status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("%s: got %d %q, want %d containing %q", c.name, status, body, c.status, c.body)
		}
	}
	status, _ := g.raw(get(refs, ""))
	if status != 401 {
		t.Fatal(status)
	}
	// WWW-Authenticate on 401.
	resp := rawHead(t, g, get(refs, ""))
	if !strings.Contains(strings.ToLower(resp), `www-authenticate: basic realm="terok-gate"`) {
		t.Fatalf("401 without realm:\n%s", resp)
	}
	if after := listTree(t, g.cfg.Root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("bad requests changed the state dir:\nbefore %v\nafter  %v", before, after)
	}

	// v2 advertisement has no "# service" line and lists capabilities.
	_, body := g.raw(get(refs, basic(tok)+"Git-Protocol: version=2\r\n"))
	if strings.Contains(body, "# service") || !strings.Contains(body, "version 2") {
		t.Fatalf("v2 advertisement: %q", body)
	}

	// Revoked token: 403 with the reason (git shows it; see TestGitShowsWhyATokenFails).
	if _, err := g.api.RevokeTask(g.ctx(), "proj", "t1"); err != nil {
		t.Fatal(err)
	}
	if status, body := g.raw(get(refs, basic(tok))); status != 403 || !strings.HasPrefix(body, "terok-gate: unknown or revoked gate token") {
		t.Fatalf("revoked token: %d %q", status, body)
	}
}

func rawHead(t *testing.T, g *gate, req string) string {
	t.Helper()
	c := dialGate(t, g)
	defer c.Close()
	c.Write([]byte(req))
	var buf bytes.Buffer
	b := make([]byte, 4096)
	n, _ := c.Read(b)
	buf.Write(b[:n])
	return buf.String()
}

func postReq(path, tok, ctype, extra string, body []byte) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		path, basic(tok), ctype, extra, len(body), body)
}

func TestBadBodies(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t), func(c *cfgT) { c.MaxRequestBytes = 64 << 10; c.MaxPushBytes = 256 << 10 })
	seedDir := seed(t, g, gr, "proj")
	head := gr.run(seedDir, "rev-parse", "HEAD")
	tok := g.mint("proj", "t1")
	up := "/proj.git/git-upload-pack"
	rp := "/proj.git/git-receive-pack"
	upCT := "application/x-git-upload-pack-request"
	rpCT := "application/x-git-receive-pack-request"
	zero := strings.Repeat("0", 40)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(pkt("command=ls-refs\n") + "0000"))
	zw.Close()
	status, body := g.raw(postReq(up, tok, upCT, "Git-Protocol: version=2\r\nContent-Encoding: gzip\r\n", gz.Bytes()))
	if status != 200 || !strings.Contains(body, "refs/heads/main") {
		t.Fatalf("gzip v2 ls-refs: %d %q", status, body)
	}

	big := append([]byte(pkt("want "+head+"\n")+"0000"), bytes.Repeat([]byte(pkt("have "+zero+"\n")), (64<<10)/49+10)...)
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	zw.Write(big)
	zw.Close()
	cases := []struct {
		name, req string
		status    int
		body      string
	}{
		{"malformed upload-pack", postReq(up, tok, upCT, "", []byte("zzzzgarbage")), 400, "malformed pkt-line"},
		{"short pkt upload-pack", postReq(up, tok, upCT, "", []byte("0003")), 400, "malformed"},
		{"cut pkt upload-pack", postReq(up, tok, upCT, "", []byte("0032want ")), 400, "malformed"},
		{"oversized upload-pack", postReq(up, tok, upCT, "", big), 413, "limit"},
		{"oversized gzip bomb", postReq(up, tok, upCT, "Content-Encoding: gzip\r\n", bomb.Bytes()), 413, "limit"},
		{"bad gzip", postReq(up, tok, upCT, "Content-Encoding: gzip\r\n", []byte("not gzip")), 400, "gzip"},
		{"bad encoding", postReq(up, tok, upCT, "Content-Encoding: br\r\n", []byte("0000")), 415, `terok-gate: Content-Encoding "br" is not supported; use gzip or none`},
		{"wrong content type", postReq(up, tok, "text/plain", "", []byte("0000")), 415, "Content-Type"},
		{"malformed receive-pack", postReq(rp, tok, rpCT, "", []byte("00ffnot enough")), 400, "malformed"},
		{"have before want", postReq(up, tok, upCT, "", []byte(pkt("have "+zero+"\n")+"0000")), 400,
			`terok-gate: malformed pkt-line: expected want, shallow, deepen, deepen-since, deepen-not or filter, not "have 0000000000000000000000000000000000000000"`},
		{"bad command", postReq(rp, tok, rpCT, "", []byte(pkt("hello world\n")+"0000")), 400, "bad push command"},
		{"empty receive-pack", postReq(rp, tok, rpCT, "", nil), 400, "empty push"},
	}
	for _, c := range cases {
		status, body := g.raw(c.req)
		if status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("%s: got %d %q, want %d containing %q", c.name, status, body, c.status, c.body)
		}
	}

	// A push cut off mid-pack: refs unchanged, repository valid.
	work := filepath.Join(tempDir(t), "w")
	gr.run("", "clone", "-q", g.url(tok, "proj"), work)
	os.WriteFile(filepath.Join(work, "blob.bin"), randomBytes(100<<10), 0o644)
	gr.run(work, "add", ".")
	gr.run(work, "commit", "-q", "-m", "big")
	newHead := gr.run(work, "rev-parse", "HEAD")
	pack := packBytes(t, gr, work, head, newHead)
	cmds := pkt(head+" "+newHead+" refs/heads/main\x00report-status\n") + "0000"
	full := append([]byte(cmds), pack...)
	half := full[:len(cmds)+len(pack)/2]
	// Content-Length promises the whole pack, the connection closes early.
	c := dialGate(t, g)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n", rp, basic(tok), rpCT, len(full))
	c.Write(half)
	c.Close()
	// Truncated pack with a correct Content-Length: git rejects it.
	// git answers in its report-status: the unpack failed and main was not
	// updated ("ng"), never "unpack ok".
	status, body = g.raw(postReq(rp, tok, rpCT, "", half))
	if status != 200 || !strings.Contains(body, "unpack ") || strings.Contains(body, "unpack ok") ||
		!strings.Contains(body, "ng refs/heads/main ") {
		t.Errorf("truncated pack: want git's refusal (unpack error, ng refs/heads/main), got %d %q", status, body)
	}
	// Over the push limit (256 KiB in this gate): a clear 413.
	os.WriteFile(filepath.Join(work, "blob2.bin"), randomBytes(300<<10), 0o644)
	gr.run(work, "add", ".")
	gr.run(work, "commit", "-q", "-m", "bigger")
	bigHead := gr.run(work, "rev-parse", "HEAD")
	bigPush := append([]byte(pkt(head+" "+bigHead+" refs/heads/main\x00report-status\n")+"0000"), packBytes(t, gr, work, head, bigHead)...)
	if status, body := g.raw(postReq(rp, tok, rpCT, "", bigPush)); status != 413 || !strings.Contains(body, "limit") {
		t.Errorf("oversized push: %d %q", status, body)
	}
	out, err := gr.try(work, "push", "origin", "HEAD:main")
	if err == nil || !strings.Contains(out, "413") {
		t.Errorf("git push over the limit: %v\n%s", err, out)
	}
	gr.run(work, "reset", "-q", "--hard", "HEAD~1")
	waitQuiet(g, "proj")
	if got := gr.run(g.srvDir("proj"), "rev-parse", "refs/heads/main"); got != head {
		t.Fatalf("main moved by broken pushes: %s", got)
	}
	gr.run(g.srvDir("proj"), "fsck", "--no-progress", "--no-dangling")
	// And a real push still works afterwards.
	gr.run(work, "push", "-q", "origin", "HEAD:refs/heads/after")
}

// TestStalledBody: a client that sends part of a body and then stalls is
// cut off after the idle timeout instead of holding a git process.
func TestStalledBody(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t), func(c *cfgT) { c.BodyIdleTimeout = cfgDuration(500 * time.Millisecond) })
	seedDir := seed(t, g, gr, "proj")
	head := gr.run(seedDir, "rev-parse", "HEAD")
	tok := g.mint("proj", "t1")
	for _, svc := range []string{"upload-pack", "receive-pack"} {
		part := pkt("want " + head + "\n")
		if svc == "receive-pack" {
			part = pkt(head+" "+head+" refs/heads/x\x00report-status\n") + "0000PACK"
		}
		c := dialGate(t, g)
		fmt.Fprintf(c, "POST /proj.git/git-%s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/x-git-%s-request\r\nContent-Length: 100000\r\n\r\n%s",
			svc, basic(tok), svc, part)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: no answer to a stalled request: %v", svc, err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("%s: stalled request held for %s", svc, d)
		}
		// git writes nothing before the whole body is in, so the gate still
		// owns the answer: 408 for both services.
		if resp.StatusCode != http.StatusRequestTimeout || string(body) != "terok-gate: request body stalled; the client sent nothing for too long\n" {
			t.Errorf("%s: %d %q", svc, resp.StatusCode, body)
		}
	}
	waitQuiet(g, "proj")
	gr.run(g.srvDir("proj"), "fsck", "--no-progress", "--no-dangling")
}

// TestGitShowsWhyATokenFails: a wrong, revoked or misplaced token makes
// the real git client print the gate's reason as "remote: terok-gate: …",
// never a password prompt ("could not read Password").
func TestGitShowsWhyATokenFails(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seed(t, g, gr, "proj")
	g.createRepo("other")
	otherTok := g.mint("other", "t9")
	dir := tempDir(t)
	fails := func(name string, want []string, args ...string) {
		t.Helper()
		out, err := gr.try(dir, args...)
		if err == nil {
			t.Fatalf("%s: git succeeded:\n%s", name, out)
		}
		if strings.Contains(out, "could not read Password") {
			t.Errorf("%s: git asked for a password instead of showing the gate's reason:\n%s", name, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: git's output lacks %q:\n%s", name, w, out)
			}
		}
	}
	fails("unknown token", []string{"remote: terok-gate: unknown or revoked gate token", "The requested URL returned error: 403"},
		"clone", "-q", g.url("terok-g-00000000000000000000000000000000", "proj"), "x1")
	fails("token of another project", []string{"remote: terok-gate: this token is for project other, not proj"},
		"clone", "-q", g.url(otherTok, "proj"), "x2")
	fails("missing repository", []string{"remote: terok-gate: no repository nope on this gate", "not found"},
		"clone", "-q", g.url(g.admin, "nope"), "x3")
	fails("doubled .git", []string{`remote: terok-gate: bad name: project "proj.git" must not end in ".git"`},
		"clone", "-q", g.url(g.admin, "proj.git"), "x4")

	// A task's token revoked while it works: its next push says why.
	tok := g.mint("proj", "t1")
	clone := filepath.Join(dir, "c")
	gr.run("", "clone", "-q", g.url(tok, "proj"), clone)
	gr.commit(clone, "w", "w\n", "work")
	if _, err := g.api.RevokeTask(g.ctx(), "proj", "t1"); err != nil {
		t.Fatal(err)
	}
	out, err := gr.try(clone, "push", "origin", "HEAD:refs/heads/task/t1")
	if err == nil || strings.Contains(out, "could not read") || !strings.Contains(out, "remote: terok-gate: unknown or revoked gate token") {
		t.Fatalf("push with a revoked token: %v\n%s", err, out)
	}

	// Without any token git asks for one (401 with a Basic challenge, so
	// a credential helper can answer); with prompts off it says so.
	plain := strings.Replace(g.url("x", "proj"), "x@", "", 1)
	out, err = gr.try(dir, "clone", "-q", plain, "x5")
	if err == nil || !strings.Contains(out, "could not read Username") {
		t.Fatalf("clone without a token: %v\n%s", err, out)
	}
}
