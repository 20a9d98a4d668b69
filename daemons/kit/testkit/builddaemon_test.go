package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Under -race a daemon built by BuildDaemon reports its races to the
// directory Main reads; without it, it is the plain static build.
func TestBuildDaemonCarriesTheRaceDetector(t *testing.T) {
	RequireCommand(t, "go")
	bin := BuildDaemon(t, "./testdata/racy")
	out, err := exec.Command(bin).CombinedOutput()
	if !raceEnabled {
		if err != nil || strings.TrimSpace(string(out)) != "done true" {
			t.Fatalf("racy without the race detector: %v %q", err, out)
		}
		if raceDir != "" {
			t.Fatal("a race directory without -race")
		}
		return
	}
	// The report went to the file, not to the output; the exit status
	// says a race happened.
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 66 || strings.Contains(string(out), "DATA RACE") {
		t.Fatalf("racy under the race detector: %v %q", err, out)
	}
	if r := raceReports(raceDir); !strings.Contains(r, "WARNING: DATA RACE") || !strings.Contains(r, "main.main") {
		t.Fatalf("no race report in %s: %q", raceDir, r)
	}
	// Main would fail the package on it; this test knows the race is
	// wanted, so the report goes.
	if err := removeReports(raceDir); err != nil {
		t.Fatal(err)
	}
}

// removeReports deletes the race reports in dir.
func removeReports(dir string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "report*"))
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}
