package podconf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Paths are the user's Podman configuration files.
type Paths struct {
	ContainersConf string
	StorageConf    string
}

// UserPaths returns $XDG_CONFIG_HOME/containers/{containers,storage}.conf,
// with XDG_CONFIG_HOME defaulting to home/.config, as Podman reads them.
func UserPaths(home, xdgConfigHome string) Paths {
	base := xdgConfigHome
	if base == "" {
		base = filepath.Join(home, ".config")
	}
	d := filepath.Join(base, "containers")
	return Paths{ContainersConf: filepath.Join(d, "containers.conf"), StorageConf: filepath.Join(d, "storage.conf")}
}

// Want is what podman-service decided.
type Want struct {
	CgroupManager string
	EventsLogger  string
	Runtime       string
	HooksDir      string
	StorageDriver string
	MountProgram  string // set for fuse-overlayfs
}

// Change reports one key: written by podman-service or kept as the user
// set it.
type Change struct {
	File  string `json:"file"`
	Key   string `json:"key"` // table.key
	Value string `json:"value"`
	Kept  bool   `json:"kept"` // true when the user's value stays
}

type entry struct {
	table, key, value string // value in TOML syntax
}

// Apply writes the missing keys of w into the files (atomically) unless
// dryRun, and reports every key it decided or kept.
func Apply(p Paths, w Want, dryRun bool) ([]Change, error) {
	cc := []entry{
		{"containers", "default_ulimits", "[]"},
		{"engine", "cgroup_manager", strconv.Quote(w.CgroupManager)},
		{"engine", "events_logger", strconv.Quote(w.EventsLogger)},
		{"engine", "runtime", strconv.Quote(w.Runtime)},
	}
	var hooks *entry
	if w.HooksDir != "" {
		hooks = &entry{"engine", "hooks_dir", "[" + strconv.Quote(w.HooksDir) + "]"}
		cc = append(cc, *hooks)
	}
	ch1, err := ensure(p.ContainersConf, cc, dryRun, func(doc map[string]any) error {
		if hooks == nil {
			return nil
		}
		v, ok := lookup(doc, "engine", "hooks_dir")
		if !ok {
			return nil
		}
		list, _ := v.([]any)
		for _, d := range list {
			if s, _ := d.(string); filepath.Clean(s) == filepath.Clean(w.HooksDir) {
				return nil
			}
		}
		return fmt.Errorf("%w: %s sets [engine] hooks_dir = %v; add %q to that list (or delete the key and podman-service writes it)",
			ErrHooksDirOverridden, p.ContainersConf, v, w.HooksDir)
	})
	if err != nil {
		return nil, err
	}
	sc := []entry{{"storage", "driver", strconv.Quote(w.StorageDriver)}}
	if w.MountProgram != "" {
		sc = append(sc, entry{"storage.options.overlay", "mount_program", strconv.Quote(w.MountProgram)})
	}
	ch2, err := ensure(p.StorageConf, sc, dryRun, nil)
	if err != nil {
		return nil, err
	}
	return append(ch1, ch2...), nil
}

// Load parses a TOML file; a missing file is an empty document.
func Load(path string) (map[string]any, []byte, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]any{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	doc := map[string]any{}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v; fix it or move it away", ErrBadTOML, path, err)
	}
	return doc, b, nil
}

// lookup finds table.key, the table given dotted ("storage.options.overlay").
func lookup(doc map[string]any, table, key string) (any, bool) {
	m := doc
	for _, t := range strings.Split(table, ".") {
		next, ok := m[t].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	v, ok := m[key]
	return v, ok
}

func ensure(path string, want []entry, dryRun bool, verify func(map[string]any) error) ([]Change, error) {
	doc, orig, err := Load(path)
	if err != nil {
		return nil, err
	}
	if verify != nil {
		if err := verify(doc); err != nil {
			return nil, err
		}
	}
	var changes []Change
	missing := map[string][]entry{}
	var order []string
	for _, e := range want {
		if v, ok := lookup(doc, e.table, e.key); ok {
			changes = append(changes, Change{File: path, Key: e.table + "." + e.key, Value: render(v), Kept: true})
			continue
		}
		if _, seen := missing[e.table]; !seen {
			order = append(order, e.table)
		}
		missing[e.table] = append(missing[e.table], e)
		changes = append(changes, Change{File: path, Key: e.table + "." + e.key, Value: e.value})
	}
	if len(order) == 0 || dryRun {
		return changes, nil
	}
	text := string(orig)
	for _, t := range order {
		text = insert(text, t, missing[t])
	}
	check := map[string]any{}
	if _, err := toml.Decode(text, &check); err != nil {
		return nil, fmt.Errorf("adding keys to %s would break it (%v); add them by hand: %v", path, err, missing)
	}
	if err := writeAtomic(path, []byte(text)); err != nil {
		return nil, err
	}
	return changes, nil
}

func render(v any) string {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(map[string]any{"v": v}); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(strings.TrimPrefix(b.String(), "v = "))
}

const marker = "# written by podman-service (terok): edit freely, a value you set is kept"

// insert puts the entries right below the [table] header, or appends the
// table when the file has none.
func insert(text, table string, es []entry) string {
	var lines []string
	lines = append(lines, marker)
	for _, e := range es {
		lines = append(lines, e.key+" = "+e.value)
	}
	block := strings.Join(lines, "\n") + "\n"
	hdr := regexp.MustCompile(`(?m)^[ \t]*\[[ \t]*` + regexp.QuoteMeta(table) + `[ \t]*\][ \t]*(#.*)?\r?\n?`)
	if loc := hdr.FindStringIndex(text); loc != nil {
		head := text[:loc[1]]
		if !strings.HasSuffix(head, "\n") {
			head += "\n"
		}
		return head + block + text[loc[1]:]
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if text != "" {
		text += "\n"
	}
	return text + "[" + table + "]\n" + block
}

// writeAtomic writes via a temp file, fsync and rename, keeping an
// existing file's mode (0644 for a new one).
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}

// Existing returns the user's graph root and the storage driver already
// configured in storage.conf or in use there ("" when neither).
func Existing(p Paths, home, xdgDataHome string) (graphRoot, driver string, err error) {
	doc, _, err := Load(p.StorageConf)
	if err != nil {
		return "", "", err
	}
	base := xdgDataHome
	if base == "" {
		base = filepath.Join(home, ".local", "share")
	}
	graphRoot = filepath.Join(base, "containers", "storage")
	for _, k := range []string{"rootless_storage_path", "graphroot"} {
		if v, ok := lookup(doc, "storage", k); ok {
			if s, _ := v.(string); s != "" {
				graphRoot = os.Expand(s, func(n string) string {
					if n == "HOME" {
						return home
					}
					return os.Getenv(n)
				})
				break
			}
		}
	}
	if v, ok := lookup(doc, "storage", "driver"); ok {
		if s, _ := v.(string); s != "" {
			return graphRoot, s, nil
		}
	}
	for _, d := range []string{"overlay", "vfs", "btrfs"} {
		if fi, err := os.Stat(filepath.Join(graphRoot, d+"-images")); err == nil && fi.IsDir() {
			return graphRoot, d, nil
		}
	}
	return graphRoot, "", nil
}

// Keys lists the keys podman-service manages, for documentation and check.
func Keys() []string {
	k := []string{"containers.default_ulimits", "engine.cgroup_manager", "engine.events_logger", "engine.runtime", "engine.hooks_dir", "storage.driver", "storage.options.overlay.mount_program"}
	slices.Sort(k)
	return k
}
