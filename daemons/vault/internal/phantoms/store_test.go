package phantoms

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
)

func open(t *testing.T, path string) (*Store, error) {
	t.Helper()
	r, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return Open(r, filepath.Base(path))
}

func shipped(t *testing.T, names ...string) []*providers.Provider {
	t.Helper()
	s, err := providers.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	var out []*providers.Provider
	for _, n := range names {
		p, err := s.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestMintLookupRevokeRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phantoms.json")
	s, err := open(t, path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Mint("demo", "t1", shipped(t, "anthropic", "openai"))
	if err != nil || len(a) != 2 {
		t.Fatal(err)
	}
	b, _ := s.Mint("demo", "t2", shipped(t, "anthropic"))
	if !strings.HasPrefix(a[0].Token, "sk-ant-api03-") || !strings.HasPrefix(a[1].Token, "sk-proj-") {
		t.Errorf("tokens %q %q", a[0].Token, a[1].Token)
	}
	raw, _ := os.ReadFile(path)
	for _, m := range append(a, b...) {
		if strings.Contains(string(raw), m.Token) {
			t.Fatalf("the phantom file holds a token")
		}
	}
	p, ok := s.Lookup(a[0].Token)
	if !ok || p.Task != "t1" || p.Provider != "anthropic" || p.Upstream != "https://api.anthropic.com" || !p.Live() {
		t.Fatalf("lookup: %+v %v", p, ok)
	}
	if !p.Allowed("POST", "/v1/messages") || p.Allowed("POST", "/v1/organizations") {
		t.Error("routes of the phantom")
	}
	if _, ok := s.Lookup(a[0].Token + "x"); ok {
		t.Error("a changed token was found")
	}
	if n, err := s.RevokeTask("demo", "t1"); n != 2 || err != nil {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if n, _ := s.RevokeTask("demo", "t1"); n != 0 {
		t.Errorf("second revoke ended %d", n)
	}

	// A restart: t1's stay revoked, t2's is live with its routes.
	s2, err := open(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := s2.Lookup(a[1].Token); !ok || p.Live() {
		t.Errorf("revoked phantom after restart: %+v %v", p, ok)
	}
	p2, ok := s2.Lookup(b[0].Token)
	if !ok || !p2.Live() || !p2.Allowed("POST", "/v1/messages") {
		t.Errorf("live phantom after restart: %+v %v", p2, ok)
	}
	if live, revoked := s2.Counts(); live != 1 || revoked != 2 {
		t.Errorf("counts %d %d", live, revoked)
	}
	if _, err := s2.Revoke(p2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Revoke("ph-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if got := s2.List("demo", "t2"); len(got) != 1 || got[0].Live() {
		t.Errorf("list t2: %+v", got)
	}
	if n, _ := s2.Prune(time.Now().Add(time.Hour)); n != 3 {
		t.Errorf("pruned %d", n)
	}
	if _, ok := s2.Lookup(b[0].Token); ok {
		t.Error("a pruned phantom is still found")
	}
}

func TestCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phantoms.json")
	os.WriteFile(path, []byte("[1,2"), 0o600)
	if _, err := open(t, path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt: %v", err)
	}
}
