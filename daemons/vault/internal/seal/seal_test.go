package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKey(t *testing.T, b byte) *Key {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{b}, KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := testKey(t, 1)
	n1, s1, err := k.Seal([]byte("sk-real"), []byte("anthropic/global"))
	if err != nil {
		t.Fatal(err)
	}
	n2, s2, _ := k.Seal([]byte("sk-real"), []byte("anthropic/global"))
	if bytes.Equal(n1, n2) || bytes.Equal(s1, s2) {
		t.Fatal("two seals of one value share nonce or ciphertext")
	}
	if bytes.Contains(s1, []byte("sk-real")) {
		t.Fatal("sealed bytes hold the value")
	}
	pt, err := k.Open(n1, s1, []byte("anthropic/global"))
	if err != nil || string(pt) != "sk-real" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	// Another place (a swapped record), another key, a flipped bit: none opens.
	if _, err := k.Open(n1, s1, []byte("openai/global")); !errors.Is(err, ErrOpen) {
		t.Errorf("open under other aad: %v, want ErrOpen", err)
	}
	if _, err := testKey(t, 2).Open(n1, s1, []byte("anthropic/global")); !errors.Is(err, ErrOpen) {
		t.Errorf("open with other key: %v, want ErrOpen", err)
	}
	bad := append([]byte(nil), s1...)
	bad[0] ^= 1
	if _, err := k.Open(n1, bad, []byte("anthropic/global")); !errors.Is(err, ErrOpen) {
		t.Errorf("open of changed bytes: %v, want ErrOpen", err)
	}
	if _, err := k.Open(n1[:3], s1, nil); !errors.Is(err, ErrOpen) {
		t.Errorf("short nonce: %v, want ErrOpen", err)
	}
}

func TestFingerprintAndID(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 2)
	if fp1, fp2 := a.Fingerprint([]byte("v")), a.Fingerprint([]byte("v")); fp1 != fp2 {
		t.Error("fingerprint is not stable")
	}
	if a.Fingerprint([]byte("v")) == a.Fingerprint([]byte("w")) {
		t.Error("two values share a fingerprint")
	}
	if a.Fingerprint([]byte("v")) == b.Fingerprint([]byte("v")) {
		t.Error("two vaults give one value the same fingerprint")
	}
	if len(a.Fingerprint([]byte("v"))) != 8 || len(a.ID()) != 8 || a.ID() == b.ID() {
		t.Errorf("fingerprint %q, ids %q %q", a.Fingerprint([]byte("v")), a.ID(), b.ID())
	}
}

func TestParse(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, KeyLen)
	for name, in := range map[string]string{
		"hex":            string(Encode(raw)),
		"hex, spaces":    "  " + strings.TrimSpace(string(Encode(raw))) + "\r\n",
		"base64":         base64.StdEncoding.EncodeToString(raw),
		"base64url, raw": base64.RawURLEncoding.EncodeToString(raw),
	} {
		k, err := Parse([]byte(in))
		if err != nil || !bytes.Equal(k, raw) {
			t.Errorf("%s: %x, %v", name, k, err)
		}
	}
	secretish := "not-a-key-but-a-secret-looking-string"
	for _, in := range []string{"", "abc", secretish, strings.Repeat("g", 64), base64.StdEncoding.EncodeToString(raw[:16])} {
		_, err := Parse([]byte(in))
		if !errors.Is(err, ErrBadKeyFile) {
			t.Errorf("Parse(%q) = %v, want ErrBadKeyFile", in, err)
		}
		if err != nil && in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("the error repeats the content: %v", err)
		}
	}
}

func openRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vault.key")
	root := openRoot(t, dir)
	k1, created, err := LoadOrCreate(root, "vault.key")
	if err != nil || !created || len(k1) != KeyLen {
		t.Fatalf("first: %x %v %v", k1, created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := LoadOrCreate(root, "vault.key")
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second: created %v err %v equal %v", created, err, bytes.Equal(k1, k2))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".vault-key-*")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestLoadOrCreateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		make       func(path string)
	}{
		{"corrupt", "not a vault key", func(p string) { os.WriteFile(p, []byte("garbage\n"), 0o600) }},
		{"readable by others", "mode 0644", func(p string) {
			os.WriteFile(p, Encode(bytes.Repeat([]byte{1}, KeyLen)), 0o644)
			os.Chmod(p, 0o644)
		}},
		{"symlink", "symlink", func(p string) {
			other := p + ".real"
			os.WriteFile(other, Encode(bytes.Repeat([]byte{1}, KeyLen)), 0o600)
			os.Symlink(other, p)
		}},
		{"directory", "not a regular file", func(p string) { os.Mkdir(p, 0o700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "vault.key")
			tc.make(path)
			before, _ := os.ReadFile(path)
			_, _, err := LoadOrCreate(openRoot(t, dir), "vault.key")
			if !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v; want ErrBadKeyFile naming %s and %q", err, path, tc.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("the refused key file was changed")
			}
		})
	}
}

func TestReadGiven(t *testing.T) {
	dir := t.TempDir()
	raw := bytes.Repeat([]byte{9}, KeyLen)
	good := filepath.Join(dir, "good")
	os.WriteFile(good, Encode(raw), 0o400)
	k, warn, err := ReadGiven(good)
	if err != nil || warn != "" || !bytes.Equal(k, raw) {
		t.Fatalf("good: %v %q", err, warn)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(good, link)
	if _, _, err := ReadGiven(link); err != nil {
		t.Errorf("a symlinked secret (as Docker and Kubernetes mount them) was refused: %v", err)
	}
	readable := filepath.Join(dir, "readable")
	os.WriteFile(readable, Encode(raw), 0o444)
	os.Chmod(readable, 0o444)
	if _, warn, err := ReadGiven(readable); err != nil || !strings.Contains(warn, "0444") {
		t.Errorf("readable: %v, warn %q; want a warning", err, warn)
	}
	writable := filepath.Join(dir, "writable")
	os.WriteFile(writable, Encode(raw), 0o666)
	os.Chmod(writable, 0o666)
	if _, _, err := ReadGiven(writable); !errors.Is(err, ErrBadKeyFile) {
		t.Errorf("writable by others: %v, want ErrBadKeyFile", err)
	}
	if _, _, err := ReadGiven(filepath.Join(dir, "missing")); !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("sk-ant-this-is-not-a-key"), 0o400)
	if _, _, err := ReadGiven(bad); !errors.Is(err, ErrBadKeyFile) || strings.Contains(err.Error(), "sk-ant") {
		t.Errorf("bad: %v", err)
	}
}
