package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestMintLookupRevokePersist(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	s, err := Open(path, "terok-admin-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	tok, e, err := s.Mint("p1", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^terok-g-[0-9a-f]{32}$`).MatchString(tok) {
		t.Fatalf("token %q has the wrong form", tok)
	}
	tok2, _, _ := s.Mint("p1", "t2")
	tok3, _, _ := s.Mint("p2", "t1")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(path)
	if regexp.MustCompile(tok).Match(raw) {
		t.Fatal("token file holds the secret")
	}
	id, err := s.Lookup(tok)
	if err != nil || id.Kind != KindTask || id.Project != "p1" || id.Task != "t1" || id.ID != e.ID {
		t.Fatalf("lookup: %+v %v", id, err)
	}
	if id, _ := s.Lookup("terok-admin-0123456789abcdef"); id.Kind != KindAdmin {
		t.Fatalf("admin lookup: %+v", id)
	}
	for _, bad := range []string{"", "terok-g-00000000000000000000000000000000", tok[:len(tok)-1]} {
		if _, err := s.Lookup(bad); !errors.Is(err, ErrUnknown) {
			t.Fatalf("lookup %q: %v", bad, err)
		}
	}
	// Restart: a new store reads the same file.
	s2, err := Open(path, "terok-admin-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := s2.Lookup(tok2); err != nil || id.Task != "t2" {
		t.Fatalf("after reopen: %+v %v", id, err)
	}
	if n, err := s2.Revoke("p1", "t1"); n != 1 || err != nil {
		t.Fatalf("revoke task: %d %v", n, err)
	}
	if _, err := s2.Lookup(tok); !errors.Is(err, ErrUnknown) {
		t.Fatal("revoked token still works")
	}
	if n, _ := s2.Revoke("p1", ""); n != 1 {
		t.Fatalf("revoke project: %d", n)
	}
	if got := s2.List(""); len(got) != 1 || got[0].Project != "p2" {
		t.Fatalf("list: %+v", got)
	}
	s3, _ := Open(path, "x")
	if _, err := s3.Lookup(tok3); err != nil {
		t.Fatal("p2 token lost")
	}
	if _, err := s3.Lookup(tok2); err == nil {
		t.Fatal("revocation not persisted")
	}
}

func TestCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(path, []byte("{nope"), 0o600)
	if _, err := Open(path, ""); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v", err)
	}
}

func TestAdminToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin-token")
	a, created, err := LoadOrCreateAdmin(path)
	if err != nil || !created {
		t.Fatal(err, created)
	}
	b, created, err := LoadOrCreateAdmin(path)
	if err != nil || created || a != b {
		t.Fatalf("not stable: %q %q %v", a, b, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatal("mode")
	}
	for _, bad := range []string{"short", "has space in it!!!!", "has@at-sign-and-more"} {
		if ValidAdminToken(bad) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
