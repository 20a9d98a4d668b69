package auth

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSessionsExpiry: a session ends after the idle time without use and
// after the absolute time whatever its use (the clock is injected).
func TestSessionsExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := openTest(t, t.TempDir(), "0123456789abcdef-token", clk)
	v, _, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Minute)
	if _, ok := s.Lookup(v); !ok {
		t.Fatal("ended before the idle time")
	}
	clk.Add(59 * time.Minute) // 59 min since its last use
	if _, ok := s.Lookup(v); !ok {
		t.Fatal("a used session ended at the idle time of its login")
	}
	clk.Add(61 * time.Minute)
	if _, ok := s.Lookup(v); ok {
		t.Fatal("an idle session outlived the idle time")
	}

	// Absolute: used every 30 minutes, it still ends 24 h after login.
	v, sess, _ := s.Create()
	for i := 0; i < 47; i++ {
		clk.Add(30 * time.Minute)
		if _, ok := s.Lookup(v); !ok {
			t.Fatalf("ended after %v of steady use", time.Duration(i+1)*30*time.Minute)
		}
	}
	if !s.Alive(sess.ID) {
		t.Fatal("Alive: not alive before the absolute end")
	}
	clk.Add(31 * time.Minute)
	if _, ok := s.Lookup(v); ok {
		t.Fatal("a session outlived the absolute time")
	}
	if s.Alive(sess.ID) {
		t.Fatal("Alive after the absolute end")
	}
}

// TestSessionsRevoke: logout ends one session, RevokeAll all of them, and
// a new access token ends every session kept on disk; a restart with the
// same token keeps them.
func TestSessionsRevoke(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	dir := t.TempDir()
	s := openTest(t, dir, "0123456789abcdef-token", clk)
	a, _, _ := s.Create()
	b, _, _ := s.Create()
	if err := s.Revoke(a); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(a); ok {
		t.Fatal("a revoked session still works")
	}
	if _, ok := s.Lookup(b); !ok {
		t.Fatal("logging one session out ended another")
	}

	// Restart, same token: the session is kept.
	s2 := openTest(t, dir, "0123456789abcdef-token", clk)
	if _, ok := s2.Lookup(b); !ok {
		t.Fatal("a restart lost the login")
	}
	if _, ok := s2.Lookup(a); ok {
		t.Fatal("a restart revived a revoked session")
	}
	// Restart with another token: every session ends.
	s3 := openTest(t, dir, "another-token-0123456789", clk)
	if _, ok := s3.Lookup(b); ok {
		t.Fatal("a session survived a new access token")
	}
	// ... and stays ended when the old token comes back.
	s4 := openTest(t, dir, "0123456789abcdef-token", clk)
	if _, ok := s4.Lookup(b); ok {
		t.Fatal("a session came back with the old token")
	}
	c, _, _ := s4.Create()
	if err := s4.RevokeAll(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s4.Lookup(c); ok {
		t.Fatal("RevokeAll left a session")
	}
}

// TestSessionsFile: only hashes are kept, 0600, and neither the token nor
// a cookie value is in the file.
func TestSessionsFile(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	dir := t.TempDir()
	const tok = "0123456789abcdef-token"
	s := openTest(t, dir, tok, clk)
	v, sess, _ := s.Create()
	st, err := os.Stat(SessionsFile(dir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sessions file: %v %v", st, err)
	}
	b, _ := os.ReadFile(SessionsFile(dir))
	for _, secret := range []string{tok, v, sess.CSRF} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("the sessions file holds a secret:\n%s", b)
		}
	}
	var f sessionsFile
	if err := json.Unmarshal(b, &f); err != nil || f.Sessions[sess.ID] == nil {
		t.Fatalf("the session's hash is not the key: %v\n%s", err, b)
	}
	if len(v) < 40 {
		t.Fatalf("cookie value %q: want 256 random bits", v)
	}
	// A torn file costs logins, not the start.
	os.WriteFile(SessionsFile(dir), []byte("{torn"), 0o600)
	if _, err := OpenSessions(dir, tok, "x", SessionOptions{}); err != nil {
		t.Fatalf("a torn sessions file stopped the start: %v", err)
	}
}

// TestSessionsBounded: at most Limit sessions; the least recently used
// goes.
func TestSessionsBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s, err := OpenSessions(t.TempDir(), "0123456789abcdef-token", "c", SessionOptions{Limit: 3, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for range 3 {
		v, _, _ := s.Create()
		vs = append(vs, v)
		clk.Add(time.Second)
	}
	s.Lookup(vs[0]) // the first is used again: the second is now the oldest
	clk.Add(time.Second)
	s.Create()
	if s.Len() != 3 {
		t.Fatalf("%d sessions, want 3", s.Len())
	}
	if _, ok := s.Lookup(vs[1]); ok {
		t.Fatal("the least recently used session was kept")
	}
	if _, ok := s.Lookup(vs[0]); !ok {
		t.Fatal("a recently used session was dropped")
	}
}

// TestInstance: one id per state dir, kept; two dirs, two cookie names.
func TestInstance(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ia, err := Instance(a)
	if err != nil || len(ia) != 8 {
		t.Fatalf("instance %q %v", ia, err)
	}
	if again, _ := Instance(a); again != ia {
		t.Fatalf("instance changed: %q then %q", ia, again)
	}
	ib, _ := Instance(b)
	if CookieName(ia) == CookieName(ib) {
		t.Fatal("two instances share a cookie name")
	}
	if !strings.HasPrefix(CookieName(ia), CookiePrefix) {
		t.Fatalf("cookie %q lacks the prefix proxies strip", CookieName(ia))
	}
}
