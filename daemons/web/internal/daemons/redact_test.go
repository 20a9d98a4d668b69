package daemons

import (
	"strings"
	"testing"
)

// TestRedact: daemon log text over TCP shows no token, by value or by
// shape.
func TestRedact(t *testing.T) {
	in := strings.Join([]string{
		"terok-gate: admin token: 9f86d081884c7d659a2feaa0c55ad015  (kept in /state/gate/admin-token)",
		"terok-gate: clone with:   git clone http://9f86d081884c7d659a2feaa0c55ad015@localhost:9418/<project>.git",
		`{"level":"info","token":"terok-g-0123456789abcdef0123456789abcdef","msg":"minted"}`,
		"Authorization: Bearer abcdefghijklmnop",
		"web token: e2e-web-0badcafe1234 set",
		"api_key=sk-live-123456789012345",
		"a known secret fixed-secret-value in a line",
		"commit 0123456789abcdef0123456789abcdef01234567 container 3f1c9d2e",
		"access token in /state/web/token",
	}, "\n")
	out := Redact(in, "fixed-secret-value", "short")
	for _, secret := range []string{"9f86d081884c7d659a2feaa0c55ad015", "terok-g-0123456789abcdef", "abcdefghijklmnop", "e2e-web-0badcafe1234", "sk-live-123456789012345", "fixed-secret-value"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q survived:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"commit 0123456789abcdef0123456789abcdef01234567 container 3f1c9d2e", "access token in /state/web/token", "kept in /state/gate/admin-token", "@localhost:9418"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q was redacted:\n%s", kept, out)
		}
	}
}
