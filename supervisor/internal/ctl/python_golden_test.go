package ctl

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// goldenSocket is the server URL the goldens were written with.
const goldenSocket = "/run/x.sock"

// TestCommandsAgainstPython gives Python's supervisorctl 4.2.5 each
// command line of commandCases, with the case's answers served by a real
// XML-RPC server on a unix socket, and requires its output and exit status
// to equal the golden our client must print. Cases whose answer is a
// transport failure in the middle of a command cannot be served to
// Python's client; they are listed in pythonUnreachable with the reason.
func TestCommandsAgainstPython(t *testing.T) {
	py := testkit.RequireCommand(t, "supervisorctl")
	for _, tc := range commandCases {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := pythonUnreachable[tc.name]; ok {
				t.Logf("compared with our own output only: %s", why)
				return
			}
			want, err := os.ReadFile(filepath.Join("testdata/golden", tc.name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			wantOut, wantCode := splitGolden(t, string(want))
			sock := serveAnswers(t, tc.answers)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, append([]string{"-s", "unix://" + sock}, strings.Fields(tc.line)...)...)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "LANG=C.UTF-8")
			cmd.Stdin = strings.NewReader("")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err = cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			// Python names its own source file and line in an unexpected
			// error; ours cannot (docs/supervisorctl.md).
			got := pySource.ReplaceAllString(strings.ReplaceAll(out.String(), sock, goldenSocket), "")
			if got != wantOut || code != wantCode {
				t.Fatalf("Python's client (exit %d):\n%s\ngolden (exit %d):\n%s", code, got, wantCode, wantOut)
			}
		})
	}
}

var pySource = regexp.MustCompile(`: file: \S+ line: \d+`)

// pythonUnreachable are the cases a server cannot produce for Python's
// client, with the reason.
var pythonUnreachable = map[string]string{
	"shutdown_no_socket": "the socket vanishes between the version check and the call",
	"avail_no_socket":    "the socket vanishes between the version check and the call",
}

// splitGolden returns the output and exit status a golden records.
func splitGolden(t *testing.T, g string) (string, int) {
	t.Helper()
	out, rest, ok := strings.Cut(g, "--- exit ")
	if !ok {
		t.Fatalf("golden without an exit status: %q", g)
	}
	var code int
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		code = code*10 + int(c-'0')
	}
	return out, code
}

// serveAnswers serves answers (as fakeServer does) as XML-RPC on a fresh
// unix socket and returns its path. A connection error in the table for
// supervisor.getVersion is made real: ENOENT a missing socket, ECONNREFUSED
// a socket file nobody listens on; an HTTP error answers every request
// with that status.
func serveAnswers(t *testing.T, answers map[string]any) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tkctl-py-") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	if v, ok := answers["supervisor.getVersion"].(error); ok {
		var errno syscall.Errno
		var he *xmlrpc.HTTPError
		switch {
		case errors.As(v, &errno) && errno == syscall.ENOENT:
			return sock
		case errors.As(v, &errno) && errno == syscall.ECONNREFUSED:
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
			return sock
		case errors.As(v, &he):
			return serveHTTP(t, sock, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(he.Status)
			}))
		}
	}
	f := &fakeServer{answers: answers}
	return serveHTTP(t, sock, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, params, err := xmlrpc.DecodeCall(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v, err := f.Call(r.Context(), method, params...)
		w.Header().Set("Content-Type", "text/xml")
		var fl *xmlrpc.Fault
		switch {
		case errors.As(err, &fl):
			xmlrpc.EncodeFault(w, fl)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			xmlrpc.EncodeResponse(w, v)
		}
	}))
}

func serveHTTP(t *testing.T, sock string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}
