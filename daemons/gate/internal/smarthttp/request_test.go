package smarthttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/uploadcases"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

const fakeOID = "0123456789abcdef0123456789abcdef01234567"

func loadCases(t testing.TB) []uploadcases.Case {
	t.Helper()
	cs, err := uploadcases.All()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func bodyOf(t testing.TB, c uploadcases.Case, oid string) []byte {
	t.Helper()
	b, err := c.Body(oid)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
		body := bodyOf(t, c, fakeOID)
		for _, oneByte := range []bool{false, true} {
			out, err := check(body, c.Protocol(), oneByte)
			if c.OK() {
				if err != nil {
					t.Errorf("%s: refused: %v", c.Name, err)
				} else if !bytes.HasPrefix(body, out) || !bytes.HasSuffix(out, []byte("0000")) && !bytes.HasSuffix(out, []byte("done")) && !bytes.HasSuffix(out, []byte("done\n")) {
					t.Errorf("%s: passed on %q of %q", c.Name, out, body)
				}
				continue
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.Want) {
				t.Errorf("%s (one byte at a time: %v): got %v, want an error saying %q", c.Name, oneByte, err, c.Want)
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
		body := bodyOf(t, c, head)
		passed, cerr := check(body, c.Protocol(), false)
		if cerr != nil {
			out, _, gerr := serve(body, c.Protocol())
			answered := gerr == nil && out != ""
			if answered != c.Stricter {
				t.Errorf("%s: the gate refuses it (%v); git answered: %v (%q)", c.Name, cerr, answered, truncate(out, 80))
			}
			continue
		}
		_, stderr, gerr := serve(passed, c.Protocol())
		if gerr != nil {
			if _, ok := clientFault(stderr); !ok {
				t.Errorf("%s: git failed with %v %q, which the gate would answer with 500", c.Name, gerr, stderr)
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
// the shared table (package uploadcases)).
func FuzzUploadRequest(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(bodyOf(f, c, fakeOID), c.V2)
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
