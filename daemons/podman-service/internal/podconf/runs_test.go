package podconf

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLaterRuns starts from files and a record left by an earlier run
// (testdata/runs/<case>/{containers.conf,state.json}) and checks the
// result against want.containers.conf and want.state.json (when absent,
// the input must stay as it was).
func TestLaterRuns(t *testing.T) {
	base := Want{CgroupManager: "cgroupfs", EventsLogger: "file", Runtime: "runc", HooksDir: "/tmp/new/hooks.d", StorageDriver: "overlay"}
	oldHooks := base
	oldHooks.HooksDir = "/tmp/old/hooks.d"
	systemd := base
	systemd.CgroupManager, systemd.HooksDir = "systemd", "/tmp/old/hooks.d"
	tests := []struct {
		dir     string
		w       Want
		err     error
		errText []string
		kept    []string
		updated []string
	}{
		{dir: "hooks-moved", w: base, updated: []string{"engine.hooks_dir"}},
		{dir: "hooks-user-replaced", w: base, err: ErrHooksDirOverridden,
			errText: []string{`sets [engine] hooks_dir = [/usr/share/containers/oci/hooks.d]`, `add "/tmp/new/hooks.d" to that list`}},
		{dir: "hooks-user-extended", w: base, kept: []string{"engine.hooks_dir"}},
		{dir: "runtime-user-changed", w: systemd, kept: []string{"engine.runtime"}, updated: []string{"engine.cgroup_manager"}},
		{dir: "interrupted-before-write", w: base, updated: []string{"engine.hooks_dir"}},
		{dir: "interrupted-after-write", w: base},
		{dir: "comment-kept", w: base, updated: []string{"engine.hooks_dir"}},
		{dir: "multi-line", w: base, err: ErrCannotUpdate, errText: []string{"not on a single line", `set it to ["/tmp/new/hooks.d"] by hand or delete the key`}},
		{dir: "bad-state", w: base, err: ErrBadState, errText: []string{StateFile, "delete it"}},
		{dir: "deleted-key", w: oldHooks},
		{dir: "user-never-ours", w: base, kept: []string{"engine.runtime"}},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			src := filepath.Join("testdata", "runs", tc.dir)
			dir := t.TempDir()
			p := UserPaths("", dir)
			os.MkdirAll(filepath.Dir(p.ContainersConf), 0o755)
			read := func(path string) []byte {
				b, err := os.ReadFile(path)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				return b
			}
			origCC := read(filepath.Join(src, "containers.conf"))
			origState := read(filepath.Join(src, "state.json"))
			os.WriteFile(p.ContainersConf, origCC, 0o644)
			if origState != nil {
				os.WriteFile(p.StatePath(), origState, 0o644)
			}

			changes, err := Apply(p, tc.w, false)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				for _, s := range tc.errText {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("error %q does not say %q", err, s)
					}
				}
				if string(read(p.ContainersConf)) != string(origCC) || string(read(p.StatePath())) != string(origState) {
					t.Fatal("a refused run changed a file")
				}
				if _, err := os.Stat(p.StorageConf); !os.IsNotExist(err) {
					t.Fatal("a refused run wrote storage.conf")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantCC := read(filepath.Join(src, "want.containers.conf"))
			if wantCC == nil {
				wantCC = origCC
			}
			if got := read(p.ContainersConf); string(got) != string(wantCC) {
				t.Fatalf("containers.conf:\n%s\nwant:\n%s", got, wantCC)
			}
			wantState := read(filepath.Join(src, "want.state.json"))
			if wantState == nil {
				wantState = origState
			}
			var want, got state
			if err := json.Unmarshal(wantState, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(read(p.StatePath()), &got); err != nil {
				t.Fatalf("state file: %v", err)
			}
			// storage.conf is always new here: podman-service writes its driver.
			want.Files["storage.conf"] = map[string]record{"storage.driver": {Value: `"overlay"`}}
			if !got.equal(want) {
				t.Fatalf("state:\n%s\nwant:\n%+v", read(p.StatePath()), want.Files)
			}
			if got.Comment == "" {
				t.Fatal("state file does not explain itself")
			}
			byKey := map[string]Change{}
			for _, c := range changes {
				if c.File == p.ContainersConf {
					byKey[c.Key] = c
				}
			}
			for _, k := range tc.kept {
				if !byKey[k].Kept {
					t.Fatalf("%s not reported as kept: %+v", k, changes)
				}
			}
			for _, k := range tc.updated {
				if c := byKey[k]; c.Kept || c.Previous == "" {
					t.Fatalf("%s not reported as updated: %+v", k, changes)
				}
			}
			for k, c := range byKey {
				if c.Previous != "" && !contains(tc.updated, k) {
					t.Fatalf("%s reported as updated: %+v", k, c)
				}
			}

			// A second run changes nothing.
			beforeCC, beforeState := read(p.ContainersConf), read(p.StatePath())
			if _, err := Apply(p, tc.w, false); err != nil {
				t.Fatal(err)
			}
			if string(read(p.ContainersConf)) != string(beforeCC) || string(read(p.StatePath())) != string(beforeState) {
				t.Fatalf("second run changed a file:\n%s\n%s", read(p.ContainersConf), read(p.StatePath()))
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHooksDirMovesBetweenRuns is the reported failure: serve with one
// hooks directory, then another, then the first again; each run names its
// own. Once the user edits the value, it is theirs and a run whose
// directory it leaves out is refused.
func TestHooksDirMovesBetweenRuns(t *testing.T) {
	p := UserPaths(t.TempDir(), "")
	w := Want{CgroupManager: "cgroupfs", EventsLogger: "file", Runtime: "runc", StorageDriver: "vfs"}
	hooks := func() any {
		doc, _, err := Load(p.ContainersConf)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := lookup(doc, "engine", "hooks_dir")
		return render(v)
	}
	for _, dir := range []string{"/tmp/a/hooks.d", "/tmp/b/hooks.d", "/tmp/a/hooks.d"} {
		w.HooksDir = dir
		if _, err := Apply(p, w, false); err != nil {
			t.Fatalf("run with %s: %v", dir, err)
		}
		if got := hooks(); got != `["`+dir+`"]` {
			t.Fatalf("hooks_dir = %s after a run with %s", got, dir)
		}
	}
	// A dry run (check) reports the update and writes nothing.
	w.HooksDir = "/tmp/c/hooks.d"
	before, _ := os.ReadFile(p.StatePath())
	ch, err := Apply(p, w, true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range ch {
		found = found || (c.Key == "engine.hooks_dir" && c.Previous == `["/tmp/a/hooks.d"]` && c.Value == `["/tmp/c/hooks.d"]`)
	}
	after, _ := os.ReadFile(p.StatePath())
	if !found || hooks() != `["/tmp/a/hooks.d"]` || string(after) != string(before) {
		t.Fatalf("dry run: %+v, hooks_dir %s", ch, hooks())
	}

	b, _ := os.ReadFile(p.ContainersConf)
	edited := strings.Replace(string(b), `hooks_dir = ["/tmp/a/hooks.d"]`, `hooks_dir = ["/tmp/mine"]`, 1)
	os.WriteFile(p.ContainersConf, []byte(edited), 0o644)
	if _, err := Apply(p, w, false); !errors.Is(err, ErrHooksDirOverridden) {
		t.Fatalf("user's hooks_dir overridden: %v", err)
	}
	if b, _ := os.ReadFile(p.ContainersConf); string(b) != edited {
		t.Fatal("refused run changed containers.conf")
	}
}

// TestStateSettles checks the two-step record: while a file is being
// updated both the old and the new value count as podman-service's; after
// the run only the new one does.
func TestStateSettles(t *testing.T) {
	st := state{Files: map[string]map[string]record{"containers.conf": {"engine.runtime": {Value: `"crun"`, Prior: `"runc"`}}}}
	r := st.Files["containers.conf"]["engine.runtime"]
	if !r.owns(`"crun"`) || !r.owns(`"runc"`) || r.owns(`"other"`) {
		t.Fatalf("staged record: %+v", r)
	}
	s := st.settled()
	if r := s.Files["containers.conf"]["engine.runtime"]; r.owns(`"runc"`) || !r.owns(`"crun"`) {
		t.Fatalf("settled record: %+v", r)
	}
	if s.equal(st) || !s.equal(s.settled()) {
		t.Fatal("equal")
	}
}
