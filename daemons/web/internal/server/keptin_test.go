package server

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKeptIn: the login page names the token file only when it holds the
// token in use (not one TEROK_WEB_TOKEN replaced, not a missing file).
func TestKeptIn(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if got := keptIn(f, "terok-web-aaaaaaaaaaaaaaaa"); got != "" {
		t.Errorf("a missing file is named: %q", got)
	}
	os.WriteFile(f, []byte("terok-web-aaaaaaaaaaaaaaaa\n"), 0o600)
	if got := keptIn(f, "terok-web-aaaaaaaaaaaaaaaa"); got != f {
		t.Errorf("the file holding the token is not named: %q", got)
	}
	if got := keptIn(f, "terok-web-bbbbbbbbbbbbbbbb"); got != "" {
		t.Errorf("a file holding another token is named: %q", got)
	}
}
