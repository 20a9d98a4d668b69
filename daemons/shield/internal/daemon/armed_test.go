package daemon

import (
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// TestArmedDetailHasNoEmptyValue: the "armed" audit line names the
// profiles, or says there are none, never "profiles " with nothing after.
func TestArmedDetailHasNoEmptyValue(t *testing.T) {
	for _, tc := range []struct {
		profiles []string
		want     string
	}{
		{nil, `pid 42 project "demo" mode up no profiles`},
		{[]string{"dev-standard", "github"}, `pid 42 project "demo" mode up profiles dev-standard,github`},
	} {
		got := armedDetail(shieldapi.ArmRequest{PID: 42, Project: "demo", Mode: "up", Profiles: tc.profiles})
		if got != tc.want || strings.HasSuffix(got, " ") {
			t.Errorf("armedDetail(%v) = %q, want %q", tc.profiles, got, tc.want)
		}
	}
}
