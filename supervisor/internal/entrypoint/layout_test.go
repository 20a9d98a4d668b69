package entrypoint

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// The unprivileged user ("podman") and the vault's user of these tests.
const (
	userUID, userGID   = 54321, 54321
	vaultUID, vaultGID = 54322, 54322
)

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode() & (os.ModePerm | os.ModeSticky)
}

func groupOf(t *testing.T, p string) int {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Gid)
}

// start does what the entrypoint does to one volume at each start: the
// hand-over to the user but system/, then system/'s layout.
func start(t *testing.T, vol string, vault *Owner) ([]string, error) {
	t.Helper()
	var logs []string
	if err := NoLinksBelow(vol, filepath.Dir(vol)); err != nil {
		return nil, err
	}
	if _, err := OwnDir(vol, filepath.Dir(vol), userUID, userGID, true, filepath.Join(vol, SystemDir)); err != nil {
		return nil, err
	}
	err := System{Volume: vol, Vault: vault, Log: func(s string) { logs = append(logs, s) }}.Prepare()
	return logs, err
}

func TestSystemLayout(t *testing.T) {
	testkit.RequireRoot(t)
	vault := &Owner{vaultUID, vaultGID}

	t.Run("fresh volume", func(t *testing.T) {
		vol := filepath.Join(t.TempDir(), "config")
		if _, err := start(t, vol, vault); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			path  string
			owner int
			mode  os.FileMode
		}{
			{vol, userUID, 0o755},
			{filepath.Join(vol, "system"), 0, 0o755},
			{filepath.Join(vol, "system", "shield"), 0, 0o700},
			{filepath.Join(vol, "system", "vault"), vaultUID, 0o700},
		} {
			if got := ownerOf(t, c.path); got != c.owner {
				t.Errorf("%s owned by %d, want %d", c.path, got, c.owner)
			}
			if got := modeOf(t, c.path); got != c.mode {
				t.Errorf("%s mode %v, want %v", c.path, got, c.mode)
			}
		}
	})
	t.Run("no vault user: no vault directory", func(t *testing.T) {
		vol := filepath.Join(t.TempDir(), "config")
		if _, err := start(t, vol, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(vol, "system", "vault")); !os.IsNotExist(err) {
			t.Errorf("system/vault made without a vault user: %v", err)
		}
	})
	t.Run("system/ keeps its owners when a foreign volume is handed over", func(t *testing.T) {
		vol := filepath.Join(t.TempDir(), "state")
		shield := filepath.Join(vol, "system", "shield")
		os.MkdirAll(filepath.Join(shield, "containers"), 0o700)
		os.WriteFile(filepath.Join(shield, "containers", "c1.json"), []byte("{}"), 0o600)
		os.MkdirAll(filepath.Join(vol, "tasks"), 0o755)
		os.WriteFile(filepath.Join(vol, "tasks", "t.json"), []byte("{}"), 0o600)
		os.Chown(vol, 4242, 4242) // a fresh bind mount of another owner
		for i := 0; i < 2; i++ {  // two starts
			if _, err := start(t, vol, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{filepath.Join(vol, "system"), shield, filepath.Join(shield, "containers"), filepath.Join(shield, "containers", "c1.json")} {
			if got := ownerOf(t, p); got != 0 {
				t.Errorf("%s owned by %d after the hand-over, want root's", p, got)
			}
		}
		for _, p := range []string{vol, filepath.Join(vol, "tasks", "t.json")} {
			if got := ownerOf(t, p); got != userUID {
				t.Errorf("%s owned by %d, want the user's", p, got)
			}
		}
	})
	t.Run("old shield directory moves once", func(t *testing.T) {
		vol := filepath.Join(t.TempDir(), "config")
		old := filepath.Join(vol, "shield")
		os.MkdirAll(filepath.Join(old, "profiles"), 0o755)
		os.WriteFile(filepath.Join(old, "config.json"), []byte(`{"x":1}`), 0o644)
		os.WriteFile(filepath.Join(old, "profiles", "p.json"), []byte(`{}`), 0o664)
		os.Chmod(filepath.Join(old, "profiles"), 0o777)
		os.Symlink("/etc/shadow", filepath.Join(old, "profiles", "planted.json"))
		for _, p := range []string{vol, old, filepath.Join(old, "config.json"), filepath.Join(old, "profiles"), filepath.Join(old, "profiles", "p.json")} {
			os.Lchown(p, userUID, userGID)
		}
		logs, err := start(t, vol, nil)
		if err != nil {
			t.Fatal(err)
		}
		moved := filepath.Join(vol, "system", "shield")
		if b, err := os.ReadFile(filepath.Join(moved, "config.json")); err != nil || string(b) != `{"x":1}` {
			t.Fatalf("config.json after the move: %q %v", b, err)
		}
		if _, err := os.Lstat(old); !os.IsNotExist(err) {
			t.Errorf("the old directory is still there: %v", err)
		}
		for _, p := range []string{moved, filepath.Join(moved, "config.json"), filepath.Join(moved, "profiles", "p.json")} {
			if got := ownerOf(t, p); got != 0 {
				t.Errorf("%s owned by %d after the move, want root's", p, got)
			}
		}
		// the shield refuses anything others may write
		for _, p := range []string{filepath.Join(moved, "profiles"), filepath.Join(moved, "profiles", "p.json")} {
			if m := modeOf(t, p); m&0o022 != 0 {
				t.Errorf("%s mode %v after the move: writable by group or others", p, m)
			}
		}
		if modeOf(t, moved) != 0o700 {
			t.Errorf("moved directory mode %v, want 0700", modeOf(t, moved))
		}
		if _, err := os.Lstat(filepath.Join(moved, "profiles", "planted.json")); !os.IsNotExist(err) {
			t.Errorf("a symlink came along with the move: %v", err)
		}
		joined := strings.Join(logs, "\n")
		if !strings.Contains(joined, "moved "+old+" to "+moved) || !strings.Contains(joined, "planted.json") {
			t.Errorf("the move is not logged with the removed link:\n%s", joined)
		}
		logs, err = start(t, vol, nil)
		if err != nil || len(logs) != 0 {
			t.Errorf("second start: %v, logs %v; want nothing to do", err, logs)
		}
	})

	refusals := []struct {
		name  string
		plant func(t *testing.T, vol string) string // returns a path the refusal names
		want  string
	}{
		{"symlink at system/shield", func(t *testing.T, vol string) string {
			target := filepath.Join(filepath.Dir(vol), "elsewhere")
			os.Mkdir(target, 0o755)
			os.Chown(target, userUID, userGID)
			os.MkdirAll(filepath.Join(vol, "system"), 0o755)
			os.Symlink(target, filepath.Join(vol, "system", "shield"))
			return filepath.Join(vol, "system", "shield")
		}, "is a symlink"},
		{"symlink at system", func(t *testing.T, vol string) string {
			os.Symlink("/etc", filepath.Join(vol, "system"))
			return filepath.Join(vol, "system")
		}, "is a symlink"},
		{"system/ made by the user", func(t *testing.T, vol string) string {
			os.MkdirAll(filepath.Join(vol, "system", "shield"), 0o700)
			os.Chown(filepath.Join(vol, "system"), userUID, userGID)
			return filepath.Join(vol, "system")
		}, "belongs to uid 54321, not root"},
		{"system/shield made by the user", func(t *testing.T, vol string) string {
			os.MkdirAll(filepath.Join(vol, "system", "shield"), 0o700)
			os.Chown(filepath.Join(vol, "system", "shield"), userUID, userGID)
			return filepath.Join(vol, "system", "shield")
		}, "belongs to uid 54321, not root"},
		{"system/vault of another user", func(t *testing.T, vol string) string {
			os.MkdirAll(filepath.Join(vol, "system", "vault"), 0o700)
			os.Chown(filepath.Join(vol, "system", "vault"), userUID, userGID)
			return filepath.Join(vol, "system", "vault")
		}, "not uid 54322"},
		{"old and new shield directories both", func(t *testing.T, vol string) string {
			os.MkdirAll(filepath.Join(vol, "system", "shield"), 0o700)
			os.MkdirAll(filepath.Join(vol, "shield"), 0o700)
			return filepath.Join(vol, "shield") + " (where the shield's files were kept before) and " + filepath.Join(vol, "system", "shield")
		}, "Keep what you need"},
		{"the volume itself a symlink", func(t *testing.T, vol string) string {
			os.Remove(vol)
			os.Symlink("/etc", vol)
			return vol
		}, "is a symlink"},
	}
	for _, rc := range refusals {
		t.Run("refused: "+rc.name, func(t *testing.T) {
			vol := filepath.Join(t.TempDir(), "config")
			os.Mkdir(vol, 0o755)
			os.Chown(vol, userUID, userGID)
			named := rc.plant(t, vol)
			_, err := start(t, vol, &Owner{vaultUID, vaultGID})
			if err == nil {
				t.Fatal("accepted; want a refusal")
			}
			if !strings.Contains(err.Error(), named) || !strings.Contains(err.Error(), rc.want) {
				t.Errorf("refusal does not name %q and say %q:\n%v", named, rc.want, err)
			}
		})
	}
	t.Run("a symlink's target is left alone", func(t *testing.T) {
		vol := filepath.Join(t.TempDir(), "config")
		target := filepath.Join(filepath.Dir(vol), "elsewhere")
		os.Mkdir(target, 0o755)
		os.Chown(target, userUID, userGID)
		os.MkdirAll(filepath.Join(vol, "system"), 0o755)
		os.Symlink(target, filepath.Join(vol, "system", "shield"))
		start(t, vol, nil)
		if ownerOf(t, target) != userUID || modeOf(t, target) != 0o755 {
			t.Errorf("the link's target changed: owner %d mode %v", ownerOf(t, target), modeOf(t, target))
		}
	})
}

func TestRunDir(t *testing.T) {
	testkit.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "run")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, userUID, userGID) // as older images made it
	if err := RunDir(dir, userGID); err != nil {
		t.Fatal(err)
	}
	if ownerOf(t, dir) != 0 || groupOf(t, dir) != userGID || modeOf(t, dir) != os.ModeSticky|0o775 {
		t.Errorf("run dir %d:%d %v, want root:%d sticky 0775", ownerOf(t, dir), groupOf(t, dir), modeOf(t, dir), userGID)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	if err := RunDir(link, userGID); err == nil || !strings.Contains(err.Error(), link) {
		t.Errorf("a symlink as run dir: %v", err)
	}
	logs := filepath.Join(t.TempDir(), "log")
	if err := LogDir(logs); err != nil || ownerOf(t, logs) != 0 || modeOf(t, logs) != 0o700 {
		t.Errorf("log dir: %v, owner %d mode %v", err, ownerOf(t, logs), modeOf(t, logs))
	}
}

func TestNoLinksBelow(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "real", "terok"), 0o755)
	os.Symlink(filepath.Join(home, "real"), filepath.Join(home, ".config"))
	if err := NoLinksBelow(filepath.Join(home, "real", "terok"), home); err != nil {
		t.Errorf("real directories: %v", err)
	}
	err := NoLinksBelow(filepath.Join(home, ".config", "terok"), home)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(home, ".config")+" is a symlink") {
		t.Errorf("a link above the volume: %v", err)
	}
}

// TestHostileTokenFiles: the token files lie in the user's part of the
// state volume and root reads and writes them at every start; the user
// must not make root read, print or chown anything else through them.
func TestHostileTokenFiles(t *testing.T) {
	testkit.RequireRoot(t)
	t.Run("a symlink as the stored token is not followed", func(t *testing.T) {
		dir := t.TempDir()
		secret := filepath.Join(dir, "secret")
		os.WriteFile(secret, []byte("root-only-secret-0123456789\n"), 0o600)
		os.Symlink(secret, filepath.Join(dir, "tok"))
		tok, err := SettleToken("X_TOKEN", "", filepath.Join(dir, "tok"), "p-", userUID, userGID)
		if err == nil || strings.Contains(tok.Value, "secret") || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("got %+v %v; want a refusal that reads nothing", tok, err)
		}
	})
	t.Run("a stored token of another user is refused", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "tok")
		os.WriteFile(p, []byte("someone-elses-0123456789\n"), 0o600)
		os.Chown(p, 4242, 4242)
		if _, err := SettleToken("X_TOKEN", "", p, "p-", userUID, userGID); err == nil || !strings.Contains(err.Error(), "belongs to uid 4242") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a symlink as the token's directory is not chowned through", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "rootdir")
		os.Mkdir(target, 0o755)
		os.Symlink(target, filepath.Join(dir, "gate"))
		_, err := SettleToken("X_TOKEN", "", filepath.Join(dir, "gate", "admin-token"), "p-", userUID, userGID)
		if err == nil {
			t.Fatal("stored a token through a symlinked directory")
		}
		if ownerOf(t, target) != 0 {
			t.Fatalf("the link's target was given to uid %d", ownerOf(t, target))
		}
	})
}
