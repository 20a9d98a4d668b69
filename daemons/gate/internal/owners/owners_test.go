package owners

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestChangeIsDurableAndAtomic(t *testing.T) {
	dir := t.TempDir()
	var s Store
	got, err := s.Read(dir)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty repository: %v %v", got, err)
	}
	if err := s.Change(dir, map[string]string{"refs/heads/agent/a": "a", "refs/heads/fix": "b"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Change(dir, map[string]string{"refs/heads/other": "a"}, []string{"refs/heads/fix", "refs/heads/other"}); err != nil {
		t.Fatal(err)
	}
	// A second Store (a restarted gate) reads what the first wrote.
	var again Store
	got, err = again.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"refs/heads/agent/a": "a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("owners %v, want %v", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record mode: %v %v", fi.Mode(), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestCorruptRecordIsAnErrorNamingTheFix(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, File), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var s Store
	if _, err := s.Read(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read: %v, want ErrCorrupt", err)
	}
	if err := s.Change(dir, map[string]string{"refs/heads/x": "t"}, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("change: %v, want ErrCorrupt", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, File)); string(b) != "{not json" {
		t.Fatalf("a corrupt record was overwritten: %q", b)
	}
}
