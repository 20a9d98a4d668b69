package entrypoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSettleToken(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	t.Run("environment wins over a stored token", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tok")
		os.WriteFile(path, []byte("stored-token-0123456789\n"), 0o600)
		tok, err := SettleToken("X_TOKEN", " given-token-0123456789 ", path, "p-", uid, gid)
		if err != nil || tok.Value != "given-token-0123456789" || tok.Source != FromEnv {
			t.Fatalf("got %+v %v", tok, err)
		}
	})
	t.Run("stored token reused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tok")
		os.WriteFile(path, []byte("stored-token-0123456789\n"), 0o600)
		tok, err := SettleToken("X_TOKEN", "", path, "p-", uid, gid)
		if err != nil || tok.Value != "stored-token-0123456789" || tok.Source != FromStored || tok.Path != path {
			t.Fatalf("got %+v %v", tok, err)
		}
	})
	t.Run("generated once, 0600, then the same", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "tok")
		tok, err := SettleToken("X_TOKEN", "", path, "terok-x-", uid, gid)
		if err != nil || tok.Source != FromCreated || !strings.HasPrefix(tok.Value, "terok-x-") || len(tok.Value) != len("terok-x-")+32 {
			t.Fatalf("got %+v %v", tok, err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("stored file: %v %v", st, err)
		}
		again, err := SettleToken("X_TOKEN", "", path, "terok-x-", uid, gid)
		if err != nil || again.Value != tok.Value || again.Source != FromStored {
			t.Fatalf("second settle: %+v %v", again, err)
		}
	})
	for _, tt := range []struct{ name, env, stored, want string }{
		{"short env", "short", "", "X_TOKEN has 5 characters, fewer than 16"},
		{"env with a slash", "abcdefgh/ijklmnopq", "", "X_TOKEN may only hold"},
		{"stored garbage", "", "not a token: at all\n", "delete it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tok")
			if tt.stored != "" {
				os.WriteFile(path, []byte(tt.stored), 0o600)
			}
			_, err := SettleToken("X_TOKEN", tt.env, path, "p-", uid, gid)
			if !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want ErrBadToken mentioning %q, got %v", tt.want, err)
			}
			if tt.stored != "" && !strings.Contains(err.Error(), path) {
				t.Fatalf("error should name the file: %v", err)
			}
		})
	}
}

// TestMoveToken: a volume of an earlier version keeps its web token as
// web/access-token; it moves to web/token once, keeping its value, and
// never over a token already there. A symlink in its place moves as the
// link, which SettleToken then refuses.
func TestMoveToken(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	dir := t.TempDir()
	old, path := filepath.Join(dir, "access-token"), filepath.Join(dir, "token")
	os.WriteFile(old, []byte("terok-web-kept0123456789\n"), 0o600)
	if err := MoveToken(old, path); err != nil {
		t.Fatal(err)
	}
	tok, err := SettleToken("X_TOKEN", "", path, "terok-web-", uid, gid)
	if err != nil || tok.Value != "terok-web-kept0123456789" || tok.Source != FromStored {
		t.Fatalf("after the move: %+v %v", tok, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the old file is still there: %v", err)
	}
	os.WriteFile(old, []byte("terok-web-other0123456789\n"), 0o600)
	if err := MoveToken(old, path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "terok-web-kept0123456789\n" {
		t.Fatalf("the token was replaced: %q", b)
	}
	link := filepath.Join(t.TempDir(), "access-token")
	os.Symlink("/etc/shadow", link)
	to := filepath.Join(filepath.Dir(link), "token")
	if err := MoveToken(link, to); err != nil {
		t.Fatal(err)
	}
	if _, err := SettleToken("X_TOKEN", "", to, "terok-web-", uid, gid); !errors.Is(err, ErrBadToken) {
		t.Fatalf("a moved symlink was read: %v", err)
	}
}

func TestBanner(t *testing.T) {
	b := BannerInfo{Version: "v1", WebListen: "0.0.0.0:8566", GateBind: "0.0.0.0",
		WebToken:    Token{Value: "terok-web-aaaaaaaaaaaaaaaa", Source: FromCreated, Path: "/s/web/token"},
		GateToken:   Token{Value: "terok-admin-bbbbbbbbbbbbbbbb", Source: FromStored, Path: "/s/gate/admin-token"},
		ContainerID: "3f2a1b0c9d8e"}
	var out bytes.Buffer
	b.Write(&out)
	for _, want := range []string{
		"http://localhost:8566/?token=terok-web-aaaaaaaaaaaaaaaa",
		"terok-admin-bbbbbbbbbbbbbbbb   (kept in /s/gate/admin-token)",
		"git clone http://terok-admin-bbbbbbbbbbbbbbbb@localhost:9418/<project>.git",
		"  shell:             docker exec -it -u podman 3f2a1b0c9d8e bash\n",
		"  status:            docker exec 3f2a1b0c9d8e supervisorctl status\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	b.PublicURL, b.PublicHost, b.GateBind = "https://terok.example.org/", "terok.example.org", "0.0.0.0:19418"
	b.GateToken.Source = FromEnv
	b.ContainerID = ""
	out.Reset()
	b.Write(&out)
	if strings.Contains(out.String(), "<container>") || strings.Contains(out.String(), "docker exec  ") {
		t.Errorf("without a container id the banner prints a placeholder or an empty argument:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "this container's name (docker ps lists it)") {
		t.Errorf("without a container id the banner does not say where the name is:\n%s", out.String())
	}
	for _, want := range []string{"https://terok.example.org/?token=", "(set by TEROK_GATE_ADMIN_TOKEN)",
		"git clone http://<admin token>@terok.example.org:19418/<project>.git"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "terok-admin-bbbb") {
		t.Errorf("a token given in the environment is printed:\n%s", out.String())
	}
}
