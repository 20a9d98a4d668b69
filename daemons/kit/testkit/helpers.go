package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer is a bytes.Buffer safe for a process writing while a test
// reads (a child's stdout polled by a wait loop).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePort returns a TCP port on 127.0.0.1 that nobody listened on a moment
// ago. Never put it in expected output.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]string{}
)

// Build compiles the main package pkg (a path relative to the test's
// package directory, e.g. "../cmd/terok-gate", or an import path) once per
// test binary and returns the executable's path. Call Main from TestMain to
// remove the binaries when the tests end.
func Build(t testing.TB, pkg string, extra ...string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "\x00" + strings.Join(extra, "\x00")
	if p, ok := built[key]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "terok-testbin-")
		if err != nil {
			t.Fatalf("build %s: %v", pkg, err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, fmt.Sprintf("%d-%s", len(built), filepath.Base(pkg)))
	args := append([]string{"build", "-o", out}, extra...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if slices.Contains(extra, "-race") {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // the race detector needs cgo
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[key] = out
	return out
}

// BuildDaemon is Build for a daemon the tests run on this host (not in a
// container image: the binary is not static then). Under `go test -race`
// it carries the race detector too; the races it reports go to files that
// Main reads when the tests end, and fail the package.
func BuildDaemon(t testing.TB, pkg string) string {
	t.Helper()
	if !raceEnabled {
		return Build(t, pkg)
	}
	buildMu.Lock()
	if raceDir == "" {
		d, err := os.MkdirTemp("", "terok-race-")
		if err == nil {
			// daemons that run as another user write their reports here too
			err = os.Chmod(d, 0o1777)
		}
		if err != nil {
			buildMu.Unlock()
			t.Fatalf("race report directory: %v", err)
		}
		raceDir = d
		// Every process started from now on inherits it (GORACE is read
		// when a process starts).
		os.Setenv("GORACE", "log_path="+filepath.Join(raceDir, "report"))
	}
	buildMu.Unlock()
	return Build(t, pkg, "-race")
}

// raceDir holds the race reports of the daemons BuildDaemon built.
var raceDir string

// Main runs the tests of a package and removes what Build compiled. Use it
// as the body of TestMain: func TestMain(m *testing.M) { testkit.Main(m) }.
// A race reported by a daemon built with BuildDaemon fails the package,
// with the report.
func Main(m *testing.M) {
	code := m.Run()
	buildMu.Lock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if raceDir != "" {
		if reports := raceReports(raceDir); reports != "" {
			fmt.Fprintf(os.Stderr, "FAIL: the race detector reported a data race in a daemon these tests ran:\n%s", reports)
			code = 1
		}
		os.RemoveAll(raceDir)
	}
	buildMu.Unlock()
	os.Exit(code)
}

// raceReports is the content of every race report in dir.
func raceReports(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "report*"))
	var b strings.Builder
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "--- %s ---\n%s\n", f, data)
		}
	}
	return b.String()
}

// Run runs cmd to its end and returns its standard output, standard error
// and exit status. A command that could not start at all is reported with
// status -1 and the reason in stderr.
func Run(cmd *exec.Cmd) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		code = -1
		e.WriteString(err.Error())
	}
	return o.String(), e.String(), code
}
