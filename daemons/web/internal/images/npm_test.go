package images

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// registry serves abbreviated package metadata for a few packages and
// records the paths asked.
func registry(t *testing.T, pkgs map[string]packument) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.EscapedPath()+" "+r.Header.Get("Accept"))
		mu.Unlock()
		name := strings.TrimPrefix(r.URL.Path, "/")
		p, ok := pkgs[name]
		if !ok {
			http.Error(w, `{"error":"Not found"}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(p)
	}))
	t.Cleanup(srv.Close)
	return srv, &asked
}

func versions(latest string, vs ...string) packument {
	p := packument{DistTags: map[string]string{"latest": latest}, Versions: map[string]json.RawMessage{}}
	for _, v := range vs {
		p.Versions[v] = json.RawMessage(`{}`)
	}
	return p
}

func TestNPMResolve(t *testing.T) {
	srv, asked := registry(t, map[string]packument{
		"@scope/tool": versions("2.1.5", "1.9.0", "2.0.0", "2.1.0", "2.1.5", "2.2.0-beta.1", "3.0.0-rc.1"),
		"plain":       versions("0.62.0", "0.61.0", "0.61.3", "0.62.0"),
		"old-latest":  versions("1.0.0", "1.0.0", "1.5.0"),
	})
	n := &NPM{Registry: srv.URL}
	tests := []struct{ pkg, rng, want, err string }{
		{"@scope/tool", "^2.0.0", "2.1.5", ""},         // latest satisfies: npm takes it
		{"@scope/tool", "2.0.0", "2.0.0", ""},          // exact
		{"@scope/tool", "~2.0.0", "2.0.0", ""},         // highest in range
		{"@scope/tool", ">=2.2.0-0", "3.0.0-rc.1", ""}, // a pre-release only when the range names one
		{"@scope/tool", "^4.0.0", "", "no published version satisfies"},
		{"plain", "~0.61.0", "0.61.3", ""},
		{"old-latest", "^1.0.0", "1.0.0", ""}, // npm prefers the latest tag over a higher version
		{"old-latest", ">1.0.0", "1.5.0", ""},
		{"missing", "^1.0.0", "", "has no package missing"},
		{"plain", "not a range!", "", "not a version or range"},
	}
	for _, tc := range tests {
		got, err := n.Resolve(context.Background(), tc.pkg, tc.rng)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s@%s: err = %v, want %q", tc.pkg, tc.rng, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s@%s = %q, %v; want %q", tc.pkg, tc.rng, got, err, tc.want)
		}
	}
	// A scoped name keeps its @ and escapes its slash; the abbreviated
	// metadata is asked for.
	if (*asked)[0] != "/@scope%2Ftool application/vnd.npm.install-v1+json" {
		t.Fatalf("asked %q", (*asked)[0])
	}
}

func TestNewNPMBadBundle(t *testing.T) {
	if _, err := NewNPM("", "/nonexistent/ca.crt"); err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.crt") {
		t.Fatalf("err = %v", err)
	}
	f := t.TempDir() + "/x.crt"
	writeFile(t, f, "not pem")
	if _, err := NewNPM("", f); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("err = %v", err)
	}
}
