package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/uploadcases"
)

// The hostile suite: every family of request an agent could send the gate
// on purpose. Each request is checked as it is answered:
//   - never a 5xx (a 500 is a bug in the gate); the only exceptions are
//     Go's own 505 for an HTTP version it does not speak and 501 for a
//     transfer coding it does not know;
//   - never a 2xx where access is refused (no token, a wrong, revoked or
//     misplaced token, another project's token);
//   - 2xx only for a served path with its method.
// After all families: the gate answers its health check and a real clone,
// no connection is left counted, both repositories' refs are what they
// were, and `git fsck` finds nothing wrong.

// hostileCount bounds the random family (TEROK_HOSTILE_COUNT overrides).
const hostileCount = 3000

// hostileTime bounds the random family's time; it stops early, never
// fails, when the machine is slow.
const hostileTime = 90 * time.Second

type hostile struct {
	t    *testing.T
	g    *gate
	gr   *gitRunner
	head string // proj's main
	// tokens by name: admin and task (valid for proj), other (valid for
	// project other), revoked, wrong.
	tok  map[string]string
	seen map[int]int // statuses answered, for the summary
}

// authLine is the Authorization header of each credential the suite uses,
// and whether it opens proj.
type authCase struct {
	name  string
	line  string
	opens bool
}

func (h *hostile) auths() []authCase {
	return []authCase{
		{"none", "", false},
		{"admin", basic(h.tok["admin"]), true},
		{"task", basic(h.tok["task"]), true},
		{"other project", basic(h.tok["other"]), false},
		{"revoked", basic(h.tok["revoked"]), false},
		{"wrong", basic(h.tok["wrong"]), false},
		{"token as password", "Authorization: Basic " + b64(":"+h.tok["task"]) + "\r\n", false},
		{"bearer", "Authorization: Bearer " + h.tok["task"] + "\r\n", false},
		{"garbage", "Authorization: Basic !!!\r\n", false},
		{"basic of nothing", "Authorization: Basic \r\n", false},
		{"huge user", basic(strings.Repeat("a", 20000)), false},
	}
}

// noToken tells the credentials that carry no Basic user name at all:
// the gate asks for one (401).
func noToken(name string) bool {
	return name == "none" || name == "garbage" || name == "basic of nothing" || name == "bearer"
}

// hreq is one hostile request.
type hreq struct {
	family, name string
	raw          []byte // the whole request
	method       string // for reading the answer (HEAD has no body)
	opens        bool   // the credential opens the path's project
	served       bool   // the path and method are one the gate serves
	halfClose    bool   // close the sending half after the request
	// allowed statuses; empty: any but the general rules
	want []int
	// mayClose: the connection may end without an answer (a request cut
	// off before its end)
	mayClose bool
}

type hresp struct {
	status int
	body   string
	closed bool
}

func (h *hostile) send(r hreq) hresp {
	h.t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(h.g.base, "http://"), 5*time.Second)
	if err != nil {
		h.t.Fatalf("%s/%s: dial: %v", r.family, r.name, err)
	}
	defer c.Close()
	// A safety net for a gate that does not answer, not a measurement.
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(r.raw); err != nil {
		// The gate may refuse and close before the whole request is in.
		return h.read(c, r)
	}
	if r.halfClose {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	return h.read(c, r)
}

func (h *hostile) read(c net.Conn, r hreq) hresp {
	method := r.method
	if method == "" {
		method = "GET"
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			h.t.Errorf("%s/%s: no answer within 60s", r.family, r.name)
		}
		return hresp{closed: true}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return hresp{status: resp.StatusCode, body: string(b)}
}

// check applies the suite's rules to one answer.
func (h *hostile) check(r hreq, a hresp) {
	h.t.Helper()
	h.seen[a.status]++
	where := fmt.Sprintf("%s/%s", r.family, r.name)
	if a.closed {
		if !r.mayClose {
			h.t.Errorf("%s: the connection ended without an answer", where)
		}
		return
	}
	switch {
	case a.status == 505 || a.status == 501:
		// Go's server: an HTTP version or transfer coding it does not speak.
		if !strings.Contains(a.body, "HTTP Version Not Supported") && !strings.Contains(a.body, "Unsupported transfer encoding") {
			h.t.Errorf("%s: %d %q", where, a.status, a.body)
		}
	case a.status >= 500:
		h.t.Errorf("%s: %d %q", where, a.status, truncateStr(a.body, 300))
	case a.status >= 200 && a.status < 300 && !r.opens:
		h.t.Errorf("%s: %d for a request whose credential does not open the repository: %q", where, a.status, truncateStr(a.body, 200))
	case a.status >= 200 && a.status < 300 && !r.served:
		h.t.Errorf("%s: %d for a path or method the gate does not serve", where, a.status)
	}
	if len(r.want) > 0 {
		ok := false
		for _, w := range r.want {
			ok = ok || w == a.status
		}
		if !ok {
			h.t.Errorf("%s: got %d %q, want one of %v", where, a.status, truncateStr(a.body, 300), r.want)
		}
	}
	if a.status >= 400 && a.status < 500 && a.status != 429 && strings.HasPrefix(a.body, "terok-gate: ") && len(strings.TrimSpace(a.body)) < len("terok-gate: ")+5 {
		h.t.Errorf("%s: %d names nothing: %q", where, a.status, a.body)
	}
}

func (h *hostile) do(r hreq) hresp {
	h.t.Helper()
	a := h.send(r)
	h.check(r, a)
	return a
}

func truncateStr(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// request builds a request's bytes.
func request(method, path, auth, headers string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: gate\r\n%s%s", method, path, auth, headers)
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

const (
	upCT = "Content-Type: application/x-git-upload-pack-request\r\n"
	rpCT = "Content-Type: application/x-git-receive-pack-request\r\n"
	v2   = "Git-Protocol: version=2\r\n"
)

// endpoints are the served paths of proj with their method.
var endpoints = []struct{ method, path, headers string }{
	{"GET", "/proj.git/info/refs?service=git-upload-pack", ""},
	{"GET", "/proj.git/info/refs?service=git-receive-pack", ""},
	{"POST", "/proj.git/git-upload-pack", upCT + v2},
	{"POST", "/proj.git/git-receive-pack", rpCT},
	{"GET", "/proj.git/HEAD", ""},
	{"HEAD", "/proj.git/HEAD", ""},
}

func newHostile(t *testing.T) *hostile {
	gr := newGit(t)
	// A short idle timeout so stalled bodies end quickly (408); long
	// header and uncredentialed timeouts so nothing ends by a clock the
	// checks do not expect.
	g := startGate(t, tempDir(t), func(c *cfgT) {
		c.BodyIdleTimeout = cfgDuration(2 * time.Second)
		c.Listener.ReadHeaderTimeout = 2 * time.Minute
	})
	seedDir := seed(t, g, gr, "proj")
	h := &hostile{t: t, g: g, gr: gr, head: gr.run(seedDir, "rev-parse", "HEAD"), seen: map[int]int{}}
	g.createRepo("other")
	ow := filepath.Join(tempDir(t), "other")
	gr.run("", "init", "-q", "-b", "main", ow)
	gr.commit(ow, "o", "o\n", "other's")
	gr.run(ow, "push", "-q", g.url(g.admin, "other"), "main")
	h.tok = map[string]string{
		"admin": g.admin, "task": g.mint("proj", "t1"), "other": g.mint("other", "t2"),
		"revoked": g.mint("proj", "gone"), "wrong": "terok-g-" + strings.Repeat("0", 32),
	}
	if _, err := g.api.RevokeTask(g.ctx(), "proj", "gone"); err != nil {
		t.Fatal(err)
	}
	return h
}

// refs is every ref of both repositories.
func (h *hostile) refs() string {
	return h.gr.run(h.g.srvDir("proj"), "for-each-ref") + "\n" + h.gr.run(h.g.srvDir("other"), "for-each-ref")
}

func TestHostileGate(t *testing.T) {
	h := newHostile(t)
	before := h.refs()

	t.Run("auth", h.familyAuth)
	t.Run("paths", h.familyPaths)
	t.Run("methods", h.familyMethods)
	t.Run("pkt-lines", h.familyPktLines)
	t.Run("receive-pack", h.familyReceivePack)
	t.Run("gzip", h.familyGzip)
	t.Run("git-protocol", h.familyGitProtocol)
	t.Run("headers", h.familyHeaders)
	t.Run("slow and partial bodies", h.familySlow)
	t.Run("foreign-token pushes", h.familyForeignPush)
	t.Run("random", h.familyRandom)

	// The gate is alive and whole.
	if st, err := h.g.api.Health(h.g.ctx()); err != nil || st.Status != "ok" {
		t.Fatalf("health after the suite: %+v %v", st, err)
	}
	dst := filepath.Join(tempDir(t), "after")
	h.gr.run("", "clone", "-q", h.g.url(h.tok["task"], "proj"), dst)
	if got := h.gr.run(dst, "rev-parse", "HEAD"); got != h.head {
		t.Fatalf("clone after the suite: HEAD %s, want %s", got, h.head)
	}
	waitQuiet(h.g, "proj")
	if after := h.refs(); after != before {
		t.Fatalf("refs changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	for _, p := range []string{"proj", "other"} {
		h.gr.run(h.g.srvDir(p), "fsck", "--no-progress", "--no-dangling")
	}
	// Every connection of the suite was let go.
	for i := 0; ; i++ {
		st := h.g.srv.ListenerStats()
		if st.Credentialed == 0 && st.Uncredentialed == 0 {
			t.Logf("%d connections; answers by status: %v", st.Accepted, h.seen)
			break
		}
		if i == 500 {
			t.Fatalf("connections still counted after the suite: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// familyAuth: every credential on every served path; the credential is
// checked first, so a wrong method or path without a valid one is 401/403
// too.
func (h *hostile) familyAuth(t *testing.T) {
	for _, a := range h.auths() {
		for _, e := range endpoints {
			var body []byte
			if e.method == "POST" {
				body = []byte(pkt("command=ls-refs\n") + "0000")
			}
			r := hreq{family: "auth", name: a.name + " " + e.method + " " + e.path, method: e.method,
				raw: request(e.method, e.path, a.line, e.headers, body), opens: a.opens, served: true}
			switch {
			case noToken(a.name):
				r.want = []int{401}
			case !a.opens:
				r.want = []int{403}
			case strings.Contains(e.path, "receive-pack") && e.method == "POST":
				r.want = []int{400} // ls-refs is no push
			default:
				r.want = []int{200}
			}
			h.do(r)
		}
		// A wrong method or an unknown path: the credential still decides first.
		for _, mp := range [][2]string{{"DELETE", "/proj.git/info/refs?service=git-upload-pack"}, {"PUT", "/proj.git/git-receive-pack"},
			{"GET", "/proj.git/objects/info/packs"}, {"GET", "/../../etc/passwd"}} {
			r := hreq{family: "auth", name: a.name + " " + mp[0] + " " + mp[1], raw: request(mp[0], mp[1], a.line, "", nil), opens: a.opens}
			switch {
			case noToken(a.name):
				r.want = []int{401}
			case !a.opens && a.name != "other project":
				r.want = []int{403}
			case a.name == "other project":
				r.want = []int{400, 403, 404, 405}
			default:
				r.want = []int{400, 404, 405}
			}
			h.do(r)
		}
	}
}

func (h *hostile) familyPaths(t *testing.T) {
	long := strings.Repeat("a", 300)
	paths := []string{
		"/../proj.git/HEAD", "/..%2fproj.git/HEAD", "/%2e%2e.git/HEAD", "/%2e%2e%2f%2e%2e%2fetc.git/HEAD",
		"/proj.git/../other.git/HEAD", "/proj.git/%2e%2e/other.git/HEAD", "/proj.git/objects/../HEAD",
		"/pr%00oj.git/HEAD", "/proj.git/HEAD%00", "/proj%2egit/HEAD", "/proj.git%2fHEAD", "/proj.git/info%2frefs?service=git-upload-pack",
		"//proj.git/HEAD", "/proj.git//HEAD", "/./proj.git/HEAD", "/proj.git/./HEAD", "/PROJ.git/HEAD",
		"/" + long + ".git/HEAD", "/" + strings.Repeat(long, 30) + ".git/HEAD", "/proj.git/" + long,
		"/.git/HEAD", "/-x.git/HEAD", "/proj.git.git/HEAD", "/proj.GIT/HEAD", "/proj.git", "/proj.git/", "/",
		"/proj.git/info/refs?service=git-upload-pack&service=git-receive-pack", "/proj.git/info/refs?service=%00",
		"/proj.git/info/refs?service=git-upload-pack%00", "/proj.git/HEAD?%zz", "/pröj.git/HEAD", "/proj.git/HEAD#frag",
		"/proj.git\\HEAD", "/proj.git/..\\..\\HEAD", "*", "http://evil.example/proj.git/HEAD", "/proj.git/config",
		"/proj.git/hooks/pre-receive", "/proj.git/objects/pack/", "/proj.git/info/refs/../../config",
	}
	for _, p := range paths {
		for _, a := range []authCase{h.auths()[0], h.auths()[2], h.auths()[3]} {
			served := p == "http://evil.example/proj.git/HEAD" || p == "/proj%2egit/HEAD" || p == "/proj.git/HEAD#frag" ||
				strings.HasPrefix(p, "/proj.git/info/refs?service=git-upload-pack&") || p == "/proj.git/HEAD?%zz"
			h.do(hreq{family: "paths", name: a.name + " " + truncateStr(p, 60), raw: request("GET", p, a.line, "", nil),
				opens: a.opens, served: served})
		}
	}
}

func (h *hostile) familyMethods(t *testing.T) {
	methods := []string{"PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "FOO", "get", "post",
		strings.Repeat("M", 1000), "PRI"}
	for _, m := range methods {
		for _, e := range endpoints {
			for _, a := range []authCase{h.auths()[0], h.auths()[2]} {
				r := hreq{family: "methods", name: a.name + " " + truncateStr(m, 10) + " " + e.path, method: m,
					raw: request(m, e.path, a.line, e.headers, nil), opens: a.opens}
				if a.name == "none" {
					r.want = []int{400, 401}
				} else {
					r.want = []int{400, 405}
				}
				h.do(r)
			}
		}
	}
}

// upload is one upload-pack body of the shared table.
type upload struct {
	name string
	v2   bool
	ok   bool
	body []byte
}

// uploadBodies are the upload-pack cases of the shared table (package
// uploadcases) with proj's head for OID.
func (h *hostile) uploadBodies(t *testing.T) []upload {
	cs, err := uploadcases.All()
	if err != nil {
		t.Fatal(err)
	}
	var out []upload
	for _, c := range cs {
		b, err := c.Body(h.head)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, upload{c.Name, c.V2, c.OK(), b})
	}
	return out
}

// familyPktLines: every request of the table under both protocols, then
// each mutated many ways (bytes flipped, cut, doubled, lengths bent).
func (h *hostile) familyPktLines(t *testing.T) {
	auth := basic(h.tok["task"])
	rng := rand.New(rand.NewSource(20))
	for _, c := range h.uploadBodies(t) {
		for _, proto := range []string{"", v2} {
			matches := (proto == v2) == c.v2
			r := hreq{family: "pkt-lines", name: c.name + " as " + map[string]string{"": "v0", v2: "v2"}[proto],
				raw: request("POST", "/proj.git/git-upload-pack", auth, upCT+proto, c.body), opens: true, served: true}
			if matches && !c.ok {
				r.want = []int{400}
			}
			if !matches && !c.ok {
				r.want = []int{400}
			}
			h.do(r)
		}
		for i := 0; i < 4; i++ {
			m := mutate(rng, c.body)
			proto := ""
			if c.v2 {
				proto = v2
			}
			h.do(hreq{family: "pkt-lines", name: fmt.Sprintf("%s mutated %d", c.name, i),
				raw: request("POST", "/proj.git/git-upload-pack", auth, upCT+proto, m), opens: true, served: true})
		}
	}
}

// mutate changes body in one of a few ways.
func mutate(rng *rand.Rand, body []byte) []byte {
	b := append([]byte(nil), body...)
	if len(b) == 0 {
		return []byte(strings.Repeat("0", rng.Intn(9)))
	}
	switch rng.Intn(7) {
	case 0: // flip a byte
		b[rng.Intn(len(b))] = byte(rng.Intn(256))
	case 1: // cut
		b = b[:rng.Intn(len(b))]
	case 2: // repeat a piece
		i := rng.Intn(len(b))
		b = append(b[:i], append(append([]byte(nil), b[i:]...), b[i:]...)...)
	case 3: // bend a length header to another hex number
		i := 0
		for i+4 <= len(b) && rng.Intn(3) > 0 {
			i += 4
		}
		if i+4 <= len(b) {
			copy(b[i:], fmt.Sprintf("%04x", rng.Intn(0x10000)))
		}
	case 4: // insert special packets
		i := rng.Intn(len(b) + 1)
		sp := []string{"0000", "0001", "0002", "0003", "0004", "ffff"}[rng.Intn(6)]
		b = append(b[:i], append([]byte(sp), b[i:]...)...)
	case 5: // random tail
		tail := make([]byte, rng.Intn(64))
		rng.Read(tail)
		b = append(b, tail...)
	default: // swap v0 and v2 words
		b = bytes.ReplaceAll(b, []byte("want"), []byte("have"))
	}
	return b
}

// receiveBodies never name proj's real head nor its default branch, so
// no command of them can move a ref with a task token, mutated or not.
// (git deletes a ref whose old id it cannot find without comparing, so
// "1111… 0000… refs/heads/main" would delete main for the admin token,
// which may do anything: the admin token never sends these.)
func receiveBodies() map[string][]byte {
	z := strings.Repeat("0", 40)
	o := strings.Repeat("1", 40)
	n := strings.Repeat("2", 40)
	cmd := func(old, new, ref string) string {
		return pkt(old + " " + new + " " + ref + "\x00report-status side-band-64k\n")
	}
	return map[string][]byte{
		"empty":                nil,
		"flush only":           []byte("0000"),
		"garbage":              []byte("zzzzgarbage"),
		"short command":        []byte(pkt(o+" "+n+"\n") + "0000"),
		"bad oid":              []byte(pkt("xyz "+n+" refs/heads/x\n") + "0000"),
		"command cut":          []byte(cmd(z, n, "refs/heads/x")[:30]),
		"no flush":             []byte(cmd(z, n, "refs/heads/x")),
		"no pack":              []byte(cmd(z, n, "refs/heads/x") + "0000"),
		"bad pack":             []byte(cmd(z, n, "refs/heads/x") + "0000PACKnonsense"),
		"pack header only":     append([]byte(cmd(z, n, "refs/heads/x")+"0000PACK"), 0, 0, 0, 2, 0, 0, 0, 1),
		"pack huge count":      append([]byte(cmd(z, n, "refs/heads/x")+"0000PACK"), 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff),
		"wrong old":            []byte(cmd(o, n, "refs/heads/nope") + "0000"),
		"delete missing":       []byte(cmd(o, z, "refs/heads/nope") + "0000"),
		"delete with zero old": []byte(cmd(z, z, "refs/heads/nope") + "0000"),
		"outside heads":        []byte(cmd(z, n, "refs/remotes/upstream/x") + "0000"),
		"traversal ref":        []byte(cmd(z, n, "refs/heads/../../config") + "0000"),
		"ref with NUL":         []byte(pkt(z+" "+n+" refs/heads/a\x00b\x00report-status\n") + "0000"),
		"shallow line":         []byte(pkt("shallow "+o+"\n") + cmd(z, n, "refs/heads/x") + "0000"),
		"push options":         []byte(pkt(z+" "+n+" refs/heads/x\x00push-options report-status\n") + "0000" + pkt("opt") + "0000"),
		"v2 in receive-pack":   []byte(pkt("command=ls-refs\n") + "0000"),
		"delim":                []byte("0001" + cmd(z, n, "refs/heads/x") + "0000"),
		"response end":         []byte("0002"),
		"long ref":             []byte(cmd(z, n, "refs/heads/"+strings.Repeat("x", 60000)) + "0000"),
		"many commands":        []byte(strings.Repeat(cmd(z, n, "refs/heads/x"), 2000) + "0000"),
	}
}

func (h *hostile) familyReceivePack(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	for name, body := range receiveBodies() {
		for _, a := range []authCase{h.auths()[2], h.auths()[3], h.auths()[4], h.auths()[5]} {
			r := hreq{family: "receive-pack", name: a.name + " " + name,
				raw: request("POST", "/proj.git/git-receive-pack", a.line, rpCT, body), opens: a.opens, served: true}
			if !a.opens {
				r.want = []int{403}
			}
			h.do(r)
		}
		h.do(hreq{family: "receive-pack", name: name + " mutated",
			raw: request("POST", "/proj.git/git-receive-pack", basic(h.tok["task"]), rpCT, mutate(rng, body)), opens: true, served: true})
	}
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func (h *hostile) familyGzip(t *testing.T) {
	ls := []byte(pkt("command=ls-refs\n") + "0000")
	good := gz(ls)
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-6] ^= 0xff // the CRC
	// A bomb: 70 MiB of have lines, past the 64 MiB request limit, in a
	// few hundred KiB.
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write([]byte(pkt("want "+h.head+"\n") + "0000"))
	have := []byte(pkt("have " + strings.Repeat("3", 40) + "\n"))
	for i := 0; i < (70<<20)/len(have); i++ {
		zw.Write(have)
	}
	zw.Close()
	zeros := gz(make([]byte, 70<<20))
	cases := []struct {
		name, enc string
		body      []byte
		proto     string
		want      []int
	}{
		{"good", "gzip", good, v2, []int{200}},
		{"x-gzip", "x-gzip", good, v2, []int{200}},
		{"truncated", "gzip", good[:len(good)-10], v2, []int{400}},
		{"header only", "gzip", good[:10], v2, []int{400}},
		{"corrupt crc", "gzip", corrupt, v2, []int{200, 400}},
		{"not gzip", "gzip", ls, v2, []int{400}},
		{"empty", "gzip", []byte{}, v2, []int{400}},
		{"two members", "gzip", append(append([]byte(nil), good...), good...), v2, []int{200}},
		{"bomb of have lines", "gzip", bomb.Bytes(), "", []int{413}},
		{"bomb of zeros", "gzip", zeros, "", []int{400}},
		{"gzip of garbage", "gzip", gz([]byte("zzzz garbage")), v2, []int{400}},
		{"deflate", "deflate", good, v2, []int{415}},
		{"gzip, gzip", "gzip, gzip", good, v2, []int{415}},
		{"br", "br", good, v2, []int{415}},
	}
	for _, c := range cases {
		for _, a := range []authCase{h.auths()[0], h.auths()[2]} {
			r := hreq{family: "gzip", name: a.name + " " + c.name, opens: a.opens, served: true,
				raw: request("POST", "/proj.git/git-upload-pack", a.line, upCT+c.proto+"Content-Encoding: "+c.enc+"\r\n", c.body)}
			r.want = c.want
			if !a.opens {
				r.want = []int{401}
			}
			h.do(r)
		}
	}
}

func (h *hostile) familyGitProtocol(t *testing.T) {
	auth := basic(h.tok["task"])
	protos := []string{"version=2;$(x)", "version=3", "version=2:version=1", "version=0", "version=", "=", ":::", "version=1",
		strings.Repeat("version=2:", 40), "version=2\x7f", "version=2 ", "VERSION=2", "version=2:object-format=sha256",
		"version=2:agent=" + strings.Repeat("a", 300)}
	ls := []byte(pkt("command=ls-refs\n") + "0000")
	for _, p := range protos {
		hdr := "Git-Protocol: " + p + "\r\n"
		h.do(hreq{family: "git-protocol", name: "refs " + truncateStr(p, 30), opens: true, served: true,
			raw: request("GET", "/proj.git/info/refs?service=git-upload-pack", auth, hdr, nil)})
		h.do(hreq{family: "git-protocol", name: "upload " + truncateStr(p, 30), opens: true, served: true,
			raw: request("POST", "/proj.git/git-upload-pack", auth, upCT+hdr, ls)})
	}
}

func (h *hostile) familyHeaders(t *testing.T) {
	auth := basic(h.tok["task"])
	refs := "/proj.git/info/refs?service=git-upload-pack"
	many := strings.Repeat("X-A: b\r\n", 5000)
	cases := []struct {
		name string
		raw  string
		want []int
		ok   bool // the credential opens the repository
	}{
		{"huge header", "GET " + refs + " HTTP/1.1\r\nHost: g\r\n" + auth + "X-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n", []int{431}, true},
		{"many headers", "GET " + refs + " HTTP/1.1\r\nHost: g\r\n" + auth + many + "\r\n", []int{200, 431}, true},
		{"huge cookie", "GET " + refs + " HTTP/1.1\r\nHost: g\r\n" + auth + "Cookie: " + strings.Repeat("c=d; ", 20000) + "\r\n\r\n", []int{431}, true},
		{"folded authorization", "GET " + refs + " HTTP/1.1\r\nHost: g\r\nAuthorization: Basic\r\n " + b64(h.tok["task"]+":") + "\r\n\r\n", []int{400}, false},
		{"folded other header", "GET " + refs + " HTTP/1.1\r\nHost: g\r\n" + auth + "X-A: 1\r\n\t2\r\n\r\n", []int{400}, true},
		{"folded first header", "GET " + refs + " HTTP/1.1\r\n Host: g\r\n" + auth + "\r\n", []int{400}, true},
		{"two tokens", "GET " + refs + " HTTP/1.1\r\nHost: g\r\n" + basic(h.tok["other"]) + auth + "\r\n", []int{403}, false},
		{"no host", "GET " + refs + " HTTP/1.1\r\n" + auth + "\r\n", []int{400}, true},
		{"two hosts", "GET " + refs + " HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + auth + "\r\n", []int{400}, true},
		{"bare LF lines", "GET " + refs + " HTTP/1.1\nHost: g\n" + strings.TrimSuffix(auth, "\r\n") + "\n\n", []int{200, 400}, true},
		{"CL and TE", "POST /proj.git/git-upload-pack HTTP/1.1\r\nHost: g\r\n" + auth + upCT + v2 +
			"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n13\r\n" + pkt("command=ls-refs\n") + "\r\n4\r\n0000\r\n0\r\n\r\n", []int{200, 400}, true},
		{"two lengths", "POST /proj.git/git-upload-pack HTTP/1.1\r\nHost: g\r\n" + auth + upCT + "Content-Length: 4\r\nContent-Length: 5\r\n\r\n00000", []int{400}, true},
		{"bad chunked", "POST /proj.git/git-upload-pack HTTP/1.1\r\nHost: g\r\n" + auth + upCT + v2 + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", []int{400}, true},
		{"unknown transfer coding", "POST /proj.git/git-upload-pack HTTP/1.1\r\nHost: g\r\n" + auth + upCT + "Transfer-Encoding: gzip\r\n\r\n", []int{501}, true},
		{"HTTP/2.0", "GET " + refs + " HTTP/2.0\r\nHost: g\r\n" + auth + "\r\n", []int{505}, true},
		{"HTTP/0.9", "GET " + refs + " HTTP/0.9\r\n\r\n", []int{505}, false},
		{"no version", "GET " + refs + "\r\n\r\n", []int{400}, false},
		{"HTTP/1.0", "GET " + refs + " HTTP/1.0\r\n" + auth + "\r\n", []int{200}, true},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", []int{401, 505}, false},
		{"NUL in request line", "GET /proj.git/HEAD\x00 HTTP/1.1\r\nHost: g\r\n" + auth + "\r\n", []int{400}, true},
		{"control char in header", "GET " + refs + " HTTP/1.1\r\nHost: g\r\n" + auth + "X-A: \x01\r\n\r\n", []int{400}, true},
		{"space before colon", "GET " + refs + " HTTP/1.1\r\nHost: g\r\nAuthorization : " + strings.TrimPrefix(auth, "Authorization: ") + "\r\n", []int{400}, true},
		{"expect 100 without token", "POST /proj.git/git-receive-pack HTTP/1.1\r\nHost: g\r\n" + rpCT + "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n", []int{401}, false},
		{"body declared, never sent, no token", "POST /proj.git/git-receive-pack HTTP/1.1\r\nHost: g\r\n" + rpCT + "Content-Length: 200000\r\n\r\n", []int{401}, false},
	}
	for _, c := range cases {
		h.do(hreq{family: "headers", name: c.name, raw: []byte(c.raw), want: c.want, opens: c.ok, served: true})
	}
}

// familySlow: bodies cut short, stalled, sent slowly, half-closed.
func (h *hostile) familySlow(t *testing.T) {
	auth := basic(h.tok["task"])
	ls := pkt("command=ls-refs\n") + "0000"
	post := func(path, ct, extra string, declared int) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: g\r\n%s%s%sContent-Length: %d\r\n\r\n", path, auth, ct, extra, declared)
	}
	// Half-closed after a complete request: a proper answer, not git
	// killed for a client that is still reading.
	for _, proto := range []string{v2, ""} {
		body := ls
		if proto == "" {
			body = pkt("want "+h.head+"\n") + "0000" + pkt("done\n")
		}
		a := h.do(hreq{family: "slow", name: "half-closed after a whole request " + proto, halfClose: true, opens: true, served: true,
			raw: []byte(post("/proj.git/git-upload-pack", upCT, proto, len(body)) + body), want: []int{200}})
		if proto == v2 && !strings.Contains(a.body, "refs/heads/main") {
			t.Errorf("half-closed ls-refs: %q", a.body)
		}
	}
	h.do(hreq{family: "slow", name: "half-closed refs", halfClose: true, opens: true, served: true, want: []int{200},
		raw: request("GET", "/proj.git/info/refs?service=git-upload-pack", auth, "", nil)})
	// Cut off: the declared length never arrives, the sending half closes.
	for _, c := range []struct{ name, path, ct, proto, part string }{
		{"upload v2", "/proj.git/git-upload-pack", upCT, v2, ls[:10]},
		{"upload v0", "/proj.git/git-upload-pack", upCT, "", pkt("want " + h.head + "\n")},
		{"receive", "/proj.git/git-receive-pack", rpCT, "", pkt(strings.Repeat("0", 40) + " " + strings.Repeat("2", 40) + " refs/heads/x\n")},
		{"receive, pack cut", "/proj.git/git-receive-pack", rpCT, "", pkt(strings.Repeat("0", 40)+" "+strings.Repeat("2", 40)+" refs/heads/x\x00report-status\n") + "0000PACK"},
	} {
		h.do(hreq{family: "slow", name: "cut off " + c.name, halfClose: true, opens: true, served: true,
			raw: []byte(post(c.path, c.ct, c.proto, 1000) + c.part), want: []int{400}})
		// Stalled: nothing more, the connection kept open: 408 after the
		// body idle timeout.
		h.do(hreq{family: "slow", name: "stalled " + c.name, opens: true, served: true,
			raw: []byte(post(c.path, c.ct, c.proto, 1000) + c.part), want: []int{408}})
	}
	// Chunked and stalled.
	h.do(hreq{family: "slow", name: "chunked stalled", opens: true, served: true, want: []int{408},
		raw: []byte("POST /proj.git/git-upload-pack HTTP/1.1\r\nHost: g\r\n" + auth + upCT + v2 + "Transfer-Encoding: chunked\r\n\r\n5\r\n00140")})
	// Slow but steady: a byte at a time, each well within the idle timeout.
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(h.g.base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(c, post("/proj.git/git-upload-pack", upCT, v2, len(ls)))
	for i := 0; i < len(ls); i++ {
		c.Write([]byte{ls[i]})
		time.Sleep(20 * time.Millisecond)
	}
	a := h.read(c, hreq{})
	h.check(hreq{family: "slow", name: "slow body", opens: true, served: true, want: []int{200}}, a)
	// Headers sent slowly without a token, then a body never sent.
	c2, err := net.DialTimeout("tcp", strings.TrimPrefix(h.g.base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetDeadline(time.Now().Add(60 * time.Second))
	for _, l := range []string{"POST /proj.git/git-receive-pack HTTP/1.1\r\n", "Host: g\r\n", rpCT, "Content-Length: 50000\r\n", "\r\n"} {
		io.WriteString(c2, l)
		time.Sleep(20 * time.Millisecond)
	}
	h.check(hreq{family: "slow", name: "slow headers, no token", want: []int{401}}, h.read(c2, hreq{}))
}

// familyForeignPush: pushes with a token that does not open proj, by raw
// request and by the real git client.
func (h *hostile) familyForeignPush(t *testing.T) {
	for _, name := range []string{"other", "revoked", "wrong"} {
		tok := h.tok[name]
		h.do(hreq{family: "foreign push", name: name + " refs", opens: false, served: true, want: []int{403},
			raw: request("GET", "/proj.git/info/refs?service=git-receive-pack", basic(tok), "", nil)})
		h.do(hreq{family: "foreign push", name: name + " receive-pack", opens: false, served: true, want: []int{403},
			raw: request("POST", "/proj.git/git-receive-pack", basic(tok), rpCT, receiveBodies()["no pack"])})
	}
	// The real client: a task of project other pushes a branch into proj.
	w := filepath.Join(tempDir(t), "foreign")
	h.gr.run("", "clone", "-q", h.g.url(h.tok["other"], "other"), w)
	h.gr.commit(w, "evil", "x\n", "foreign work")
	for _, name := range []string{"other", "revoked", "wrong"} {
		out, err := h.gr.try(w, "push", h.g.url(h.tok[name], "proj"), "HEAD:refs/heads/evil")
		if err == nil || !strings.Contains(out, "remote: terok-gate:") || !strings.Contains(out, "403") {
			t.Errorf("git push with the %s token into proj: %v\n%s", name, err, out)
		}
	}
	// And proj's task token into project other.
	out, err := h.gr.try(w, "push", h.g.url(h.tok["task"], "other"), "HEAD:refs/heads/evil")
	if err == nil || !strings.Contains(out, "this token is for project proj, not other") {
		t.Errorf("git push with proj's token into other: %v\n%s", err, out)
	}
}

// familyRandom: requests put together at random from the parts above
// (fixed seed; the same requests every run).
func (h *hostile) familyRandom(t *testing.T) {
	n := hostileCount
	if v, err := strconv.Atoi(os.Getenv("TEROK_HOSTILE_COUNT")); err == nil && v > 0 {
		n = v
	}
	rng := rand.New(rand.NewSource(22))
	auths := h.auths()
	uploads := h.uploadBodies(t)
	var receives [][]byte
	for _, b := range receiveBodies() {
		receives = append(receives, b)
	}
	methods := []string{"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "get", "X"}
	paths := []string{"/proj.git/info/refs?service=git-upload-pack", "/proj.git/info/refs?service=git-receive-pack",
		"/proj.git/git-upload-pack", "/proj.git/git-receive-pack", "/proj.git/HEAD", "/other.git/git-upload-pack",
		"/proj.git/info/refs", "/proj.git/objects/x", "/../proj.git/HEAD", "/p%00.git/HEAD", "/nope.git/HEAD"}
	cts := []string{upCT, rpCT, "Content-Type: text/plain\r\n", ""}
	encs := []string{"", "", "", "Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n"}
	protos := []string{"", v2, v2, "Git-Protocol: version=1\r\n", "Git-Protocol: $(x)\r\n"}
	deadline := time.Now().Add(hostileTime)
	done := 0
	for ; done < n && time.Now().Before(deadline); done++ {
		a := auths[rng.Intn(len(auths))]
		if rng.Intn(2) == 0 {
			a = auths[2] // half of them with the task's own token
		}
		m := methods[rng.Intn(len(methods))]
		p := paths[rng.Intn(len(paths))]
		if a.name == "admin" && strings.Contains(p, "receive-pack") {
			a = auths[2] // see receiveBodies
		}
		var body []byte
		switch rng.Intn(4) {
		case 0:
			body = uploads[rng.Intn(len(uploads))].body
		case 1:
			body = mutate(rng, uploads[rng.Intn(len(uploads))].body)
		case 2:
			body = mutate(rng, receives[rng.Intn(len(receives))])
		default:
			body = make([]byte, rng.Intn(200))
			rng.Read(body)
		}
		enc := encs[rng.Intn(len(encs))]
		if enc == "Content-Encoding: gzip\r\n" {
			body = gz(body)
			if rng.Intn(3) == 0 {
				body = body[:rng.Intn(len(body))]
			}
		}
		if m == "GET" || m == "HEAD" {
			body = nil
		}
		opens := a.opens && strings.HasPrefix(p, "/proj.git/")
		served := (m == "GET" && (strings.Contains(p, "?service=") || strings.HasSuffix(p, "/HEAD"))) ||
			(m == "HEAD" && strings.HasSuffix(p, "/HEAD")) || (m == "POST" && strings.HasSuffix(p, "-pack"))
		r := hreq{family: "random", name: fmt.Sprintf("#%d %s %s %s", done, a.name, m, p), method: m, opens: opens, served: served,
			raw: request(m, p, a.line, cts[rng.Intn(len(cts))]+enc+protos[rng.Intn(len(protos))], body)}
		if noToken(a.name) {
			r.want = []int{401}
		}
		h.do(r)
	}
	t.Logf("%d random requests", done)
}
