package paths

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestHostileTmpRunDir: /tmp/terok-<uid> lies where everybody may write.
// Another user who made it first (or a symlink there, or loose modes)
// would catch the sockets a daemon makes and a CLI dials there; it is
// refused, naming the path and the fix, and never chmodded or used.
func TestHostileTmpRunDir(t *testing.T) {
	testkit.RequireRoot(t) // to give directories to other users
	const me, other = 54321, 54322
	base := t.TempDir()
	mk := func(name string, owner int, mode os.FileMode) string {
		p := filepath.Join(base, name)
		os.Mkdir(p, mode)
		os.Chmod(p, mode)
		os.Chown(p, owner, owner)
		return p
	}
	t.Run("missing: created 0700", func(t *testing.T) {
		p := filepath.Join(base, "fresh")
		if err := private(p, os.Geteuid(), true); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(p); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Fatalf("created %v %v, want a 0700 directory", st, err)
		}
	})
	t.Run("missing, client: nothing created", func(t *testing.T) {
		p := filepath.Join(base, "absent")
		if err := private(p, me, false); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Fatalf("a client created %s", p)
		}
	})
	t.Run("ours and 0700: used", func(t *testing.T) {
		if err := private(mk("mine", me, 0o700), me, true); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct {
		name string
		dir  func() string
		want string
	}{
		{"another user's", func() string { return mk("theirs", other, 0o700) }, "belongs to uid 54322, not to you (uid 54321)"},
		{"ours but open", func() string { return mk("loose", me, 0o755) }, "has mode 0755, not 0700"},
		{"a symlink to our own directory", func() string {
			p := filepath.Join(base, "link")
			os.Symlink(mk("target", me, 0o700), p)
			os.Lchown(p, other, other)
			return p
		}, "is a symlink"},
		{"a file", func() string {
			p := filepath.Join(base, "file")
			os.WriteFile(p, nil, 0o600)
			os.Chown(p, me, me)
			return p
		}, "is not a directory"},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			dir := c.dir()
			for _, create := range []bool{true, false} {
				err := private(dir, me, create)
				if !errors.Is(err, ErrUnsafeRunDir) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "TEROK_RUN_DIR") {
					t.Errorf("create=%v: %v; want ErrUnsafeRunDir naming %s, %q and the fix", create, err, dir, c.want)
				}
			}
		})
	}
	t.Run("a refused directory keeps its mode", func(t *testing.T) {
		p := mk("keep", other, 0o777)
		private(p, me, true)
		if st, _ := os.Lstat(p); st.Mode().Perm() != 0o777 {
			t.Errorf("mode changed to %v", st.Mode().Perm())
		}
	})
}

func TestTmpFallbackOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		if isTmpFallback("/tmp/terok-0") {
			t.Error("root has no /tmp fallback (its run dir is /run/terok)")
		}
		return
	}
	if !isTmpFallback(tmpRunDir(os.Geteuid())) || isTmpFallback("/tmp/terok-x") || isTmpFallback(t.TempDir()) {
		t.Error("only this user's /tmp/terok-<uid> is the fallback")
	}
}
