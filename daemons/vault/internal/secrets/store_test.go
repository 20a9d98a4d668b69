package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/seal"
)

func key(t *testing.T, b byte) *seal.Key {
	t.Helper()
	k, err := seal.New(bytes.Repeat([]byte{b}, seal.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// open opens the store file at path.
func open(t *testing.T, path string, k *seal.Key) (*Store, error) {
	t.Helper()
	r, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return Open(r, filepath.Base(path), k)
}

func set(t *testing.T, s *Store, provider, project, value string) Meta {
	t.Helper()
	m, err := s.Set(SetRequest{Provider: provider, Project: project, Kind: KindAPIKey, Value: []byte(value)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestProjectWinsAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	s, err := open(t, path, key(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	set(t, s, "anthropic", "", "sk-global-111")
	pm := set(t, s, "anthropic", "demo", "sk-demo-222")
	set(t, s, "openai", "", "sk-openai-333")

	for _, tc := range []struct{ provider, project, want string }{
		{"anthropic", "demo", "sk-demo-222"},
		{"anthropic", "other", "sk-global-111"},
		{"anthropic", "", "sk-global-111"},
		{"openai", "demo", "sk-openai-333"},
	} {
		v, _, err := s.Resolve(tc.provider, tc.project)
		if err != nil || string(v) != tc.want {
			t.Errorf("Resolve(%s, %s) = %q, %v; want %q", tc.provider, tc.project, v, err, tc.want)
		}
	}
	if _, _, err := s.Resolve("gemini", "demo"); !errors.Is(err, ErrNotFound) {
		t.Errorf("gemini: %v", err)
	}

	raw, _ := os.ReadFile(path)
	for _, v := range []string{"sk-global-111", "sk-demo-222", "sk-openai-333"} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("the store file holds %s in the clear", v)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v", fi.Mode().Perm())
	}

	// Reopened: everything there, same fingerprints.
	s2, err := open(t, path, key(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if v, m, err := s2.Resolve("anthropic", "demo"); err != nil || string(v) != "sk-demo-222" || m.Fingerprint != pm.Fingerprint {
		t.Errorf("reopened: %q %+v %v", v, m, err)
	}
	list := s2.List("demo")
	if len(list) != 3 || list[0].Project != "" || list[1].Project != "demo" {
		t.Errorf("List(demo) = %+v", list)
	}
	if got := len(s2.List("other")); got != 2 {
		t.Errorf("List(other) has %d entries, want the 2 global ones", got)
	}
	if _, err := s2.Remove("anthropic", "demo"); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s2.Resolve("anthropic", "demo"); string(v) != "sk-global-111" {
		t.Errorf("after removing the project's key: %q", v)
	}
	if _, err := s2.Remove("anthropic", "demo"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
}

func TestWrongKeyAndCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	s, _ := open(t, path, key(t, 1))
	set(t, s, "anthropic", "", "sk-x")
	before, _ := os.ReadFile(path)
	_, err := open(t, path, key(t, 2))
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), key(t, 1).ID()) {
		t.Fatalf("wrong key: %v", err)
	}
	os.WriteFile(path+".bad", []byte("{not json"), 0o600)
	if _, err := open(t, path+".bad", key(t, 1)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path+".bad") {
		t.Errorf("corrupt: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a refused open changed the store")
	}
}

// TestHostileSwappedRecords: somebody who can write the store swaps the
// sealed values of two records (to have the anthropic key sent to another
// provider's host). Neither opens.
func TestHostileSwappedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	s, _ := open(t, path, key(t, 1))
	set(t, s, "anthropic", "", "sk-ant-real")
	set(t, s, "openai", "", "sk-openai-real")
	var ff fileForm
	b, _ := os.ReadFile(path)
	json.Unmarshal(b, &ff)
	ff.Secrets[0].Nonce, ff.Secrets[1].Nonce = ff.Secrets[1].Nonce, ff.Secrets[0].Nonce
	ff.Secrets[0].Sealed, ff.Secrets[1].Sealed = ff.Secrets[1].Sealed, ff.Secrets[0].Sealed
	b, _ = json.Marshal(ff)
	os.WriteFile(path, b, 0o600)

	s2, err := open(t, path, key(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"anthropic", "openai"} {
		if v, _, err := s2.Resolve(p, ""); !errors.Is(err, ErrBroken) {
			t.Errorf("%s: %q, %v; want ErrBroken", p, v, err)
		}
	}
	if pr := s2.Problems(); len(pr) != 2 {
		t.Errorf("problems %v", pr)
	}
	// Setting it again mends it.
	set(t, s2, "anthropic", "", "sk-ant-new")
	if v, _, err := s2.Resolve("anthropic", ""); err != nil || string(v) != "sk-ant-new" {
		t.Errorf("after set: %q %v", v, err)
	}
}

func TestCheckValue(t *testing.T) {
	for in, ok := range map[string]bool{
		"sk-ant-abc": true, "": false, "two words": false, "line\nbreak": false, "tab\t": false,
		"caf\xc3\xa9": false, strings.Repeat("a", MaxValue+1): false,
	} {
		err := CheckValue([]byte(in))
		if (err == nil) != ok {
			t.Errorf("CheckValue(%q) = %v", in, err)
		}
		if err != nil && len(in) > 3 && strings.Contains(err.Error(), in) {
			t.Errorf("the error repeats the value: %v", err)
		}
	}
}
