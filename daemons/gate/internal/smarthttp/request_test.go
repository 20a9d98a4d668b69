package smarthttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// reqCase is one line of testdata/upload-requests.txt.
type reqCase struct {
	name    string
	v2      bool
	want    string // "ok" or a piece of the error
	stricty bool   // git would answer it; the gate refuses on purpose
	packets []string
}

const fakeOID = "0123456789abcdef0123456789abcdef01234567"

func loadCases(t testing.TB) []reqCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "upload-requests.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []reqCase
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.SplitN(l, "|", 4)
		if len(f) != 4 {
			t.Fatalf("upload-requests.txt:%d: want 4 fields", i+1)
		}
		c := reqCase{name: strings.TrimSpace(f[0]), v2: strings.TrimSpace(f[1]) == "2", want: strings.TrimSpace(f[2])}
		c.want, c.stricty = strings.CutPrefix(c.want, "!")
		if p := strings.TrimSpace(f[3]); p != "" {
			c.packets = strings.Split(p, " ; ")
		}
		out = append(out, c)
	}
	return out
}

// body builds a case's bytes with oid for OID.
func (c reqCase) body(t testing.TB, oid string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range c.packets {
		p = strings.TrimSpace(p)
		switch {
		case p == "0000" || p == "0001" || p == "0002":
			b.WriteString(p)
		case strings.HasPrefix(p, "raw:"):
			b.WriteString(strings.TrimPrefix(p, "raw:"))
		default:
			s, err := strconv.Unquote(`"` + p + `"`)
			if err != nil {
				t.Fatalf("%s: packet %q: %v", c.name, p, err)
			}
			s = strings.ReplaceAll(strings.ReplaceAll(s, "NOOID", strings.Repeat("1", 40)), "OID", oid)
			fmt.Fprintf(&b, "%04x%s", len(s)+4, s)
		}
	}
	return b.Bytes()
}

func (c reqCase) proto() string {
	if c.v2 {
		return "version=2"
	}
	return ""
}

// check runs a body through the checks, read in pieces of the given size.
func check(body []byte, proto string, oneByte bool) ([]byte, error) {
	var r io.Reader = bytes.NewReader(body)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	return io.ReadAll(newUploadRequest(r, proto))
}

func TestUploadRequestChecks(t *testing.T) {
	for _, c := range loadCases(t) {
		body := c.body(t, fakeOID)
		for _, oneByte := range []bool{false, true} {
			out, err := check(body, c.proto(), oneByte)
			if c.want == "ok" {
				if err != nil {
					t.Errorf("%s: refused: %v", c.name, err)
				} else if !bytes.HasPrefix(body, out) || !bytes.HasSuffix(out, []byte("0000")) && !bytes.HasSuffix(out, []byte("done")) && !bytes.HasSuffix(out, []byte("done\n")) {
					t.Errorf("%s: passed on %q of %q", c.name, out, body)
				}
				continue
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s (one byte at a time: %v): got %v, want an error saying %q", c.name, oneByte, err, c.want)
			}
		}
	}
}

// TestUploadRequestAgainstGit runs every case through the git the gate
// runs, as the gate runs it: what the checks refuse git must not answer
// either (unless marked as refused on purpose), and where git refuses
// what the checks let through, its message must be one the gate reports
// as the client's mistake (400), never as its own failure (500).
func TestUploadRequestAgainstGit(t *testing.T) {
	testkit.RequireCommand(t, "git")
	dir := t.TempDir()
	repo := filepath.Join(dir, "r.git")
	work := filepath.Join(dir, "w")
	env := append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
	run := func(d string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = d, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(dir, "init", "-q", "--bare", "-b", "main", repo)
	run(dir, "init", "-q", "-b", "main", work)
	run(work, "commit", "-q", "--allow-empty", "-m", "one")
	run(work, "push", "-q", repo, "main")
	head := run(repo, "rev-parse", "HEAD")
	b, err := NewGitBackend("git", filepath.Join(dir, "hooks"))
	if err != nil {
		t.Fatal(err)
	}
	serve := func(body []byte, proto string) (stdout, stderr string, err error) {
		var o, e bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = b.Serve(ctx, Run{Dir: repo, Service: UploadPack, Protocol: proto, Stdin: bytes.NewReader(body)}, &o, &e)
		return o.String(), e.String(), err
	}
	for _, c := range loadCases(t) {
		body := c.body(t, head)
		passed, cerr := check(body, c.proto(), false)
		if cerr != nil {
			out, _, gerr := serve(body, c.proto())
			answered := gerr == nil && out != ""
			if answered != c.stricty {
				t.Errorf("%s: the gate refuses it (%v); git answered: %v (%q)", c.name, cerr, answered, truncate(out, 80))
			}
			continue
		}
		_, stderr, gerr := serve(passed, c.proto())
		if gerr != nil {
			if _, ok := clientFault(stderr); !ok {
				t.Errorf("%s: git failed with %v %q, which the gate would answer with 500", c.name, gerr, stderr)
			}
		}
	}
}

func TestClientFault(t *testing.T) {
	for stderr, want := range map[string]bool{
		"fatal: unknown capability 'frob=1'\n":                                  true,
		"fatal: git upload-pack: not our ref 1111\n":                            true,
		"warning: x\nfatal: Invalid deepen: deepen -1\n":                        true,
		"fatal: bad object HEAD\n":                                              false,
		"fatal: unable to write: No space left on device\nfatal: early EOF\n":   false,
		"error: object file is empty\nfatal: protocol error: bad pack header\n": false,
		"": false,
	} {
		if _, got := clientFault(stderr); got != want {
			t.Errorf("%q: client's fault %v, want %v", stderr, got, want)
		}
	}
}

// FuzzUploadRequest: whatever the bytes, the checks never panic, pass on
// only a prefix of the body, and judge the same whether the body comes in
// one piece or a byte at a time. `go test -fuzz FuzzUploadRequest` runs
// it; plain `go test` runs the seed corpus (the cases of
// testdata/upload-requests.txt).
func FuzzUploadRequest(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(c.body(f, fakeOID), c.v2)
	}
	f.Fuzz(func(t *testing.T, body []byte, v2 bool) {
		proto := ""
		if v2 {
			proto = "version=2"
		}
		out, err := check(body, proto, false)
		if !bytes.HasPrefix(body, out) {
			t.Fatalf("passed on bytes that are not a prefix of the body")
		}
		out1, err1 := check(body, proto, true)
		if !bytes.Equal(out, out1) || (err == nil) != (err1 == nil) || (err != nil && err.Error() != err1.Error()) {
			t.Fatalf("pieces change the verdict: %v / %v", err, err1)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("an error that is not ErrMalformed: %v", err)
		}
	})
}
