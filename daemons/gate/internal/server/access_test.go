package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
)

// Both listeners log one access line per request, in one shape (kit's
// middleware), and never a token: the git listener's line adds the
// project, the service and which token (by id), the admin socket's the
// caller's uid.
func TestAccessLines(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seed(t, g, gr, "proj")
	tok := g.mint("proj", "task1")
	gr.run("", "clone", "-q", g.url(tok, "proj"), filepath.Join(tempDir(t), "c"))
	// An admin call with a secret in its query: the query stays out.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", g.cfg.Socket)
	}}}
	resp, err := hc.Get("http://unix/v1/repos?token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	g.stop()

	logs := g.logs.String()
	if strings.Contains(logs, tok) || strings.Contains(logs, g.admin) {
		t.Fatalf("a token reached the log:\n%s", logs)
	}
	var git, admin, taskLines int
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if _, ok := m["status"]; !ok {
			continue
		}
		if m["message"] != httpmw.Message {
			t.Errorf("a second kind of access line: %v", m)
		}
		switch m["listener"] {
		case "git":
			git++
			if m["method"] == nil || m["path"] == nil || m["remote"] == nil || (m["token"] != "none" && m["project"] != "proj") {
				t.Errorf("git line: %v", m)
			}
			if m["token"] == "task" {
				taskLines++
				if m["token_id"] == "" || m["task"] != "task1" || m["service"] != "git-upload-pack" {
					t.Errorf("task token line: %v", m)
				}
			}
		case "socket":
			admin++
			if m["uid"] == nil || (m["method"] == "GET" && m["path"] == "/v1/repos" && m["status"] != float64(200)) {
				t.Errorf("admin line: %v", m)
			}
		default:
			t.Errorf("access line of no listener: %v", m)
		}
	}
	if git < 4 || admin < 3 || taskLines < 2 {
		t.Fatalf("want the pushes, the clone and the admin calls logged; got %d git and %d admin lines:\n%s", git, admin, logs)
	}
}
