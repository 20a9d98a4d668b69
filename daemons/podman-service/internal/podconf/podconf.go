package podconf

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
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
	// Previous is the value podman-service wrote on an earlier run and now
	// replaces ("" when nothing is replaced).
	Previous string `json:"previous,omitempty"`
}

type entry struct {
	table, key, value string // value in TOML syntax
}

// Apply brings the keys of w into the files unless dryRun, and reports
// every key it decided or kept.
//
// A key is podman-service's when it is missing, or when its value still
// equals the one podman-service recorded writing (see StatePath): such a
// key is written or updated. Any other value is the user's and is kept.
// Nothing is written unless both files can be brought up to date; the
// record is written before and after the files, so an interrupted run
// still recognises its own values on the next one.
func Apply(p Paths, w Want, dryRun bool) ([]Change, error) {
	statePath := p.StatePath()
	old, err := loadState(statePath)
	if err != nil {
		return nil, err
	}
	cc := []entry{
		{"containers", "default_ulimits", "[]"},
		{"engine", "cgroup_manager", strconv.Quote(w.CgroupManager)},
		{"engine", "events_logger", strconv.Quote(w.EventsLogger)},
		{"engine", "runtime", strconv.Quote(w.Runtime)},
	}
	if w.HooksDir != "" {
		cc = append(cc, entry{"engine", "hooks_dir", "[" + strconv.Quote(w.HooksDir) + "]"})
	}
	ccPlan, err := plan(p.ContainersConf, cc, old, func(doc map[string]any, owned func(table, key string) bool) error {
		if w.HooksDir == "" || owned("engine", "hooks_dir") {
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
	scPlan, err := plan(p.StorageConf, sc, old, nil)
	if err != nil {
		return nil, err
	}
	changes := append(ccPlan.changes, scPlan.changes...)
	if dryRun {
		return changes, nil
	}

	// The record keeps the values of keys podman-service still owns (and
	// of those it never decided this run, e.g. mount_program when the
	// driver is no longer fuse-overlayfs: they are left, not claimed).
	staged := state{Files: map[string]map[string]record{}}
	for f, keys := range old.Files {
		if f != ccPlan.name && f != scPlan.name {
			staged.Files[f] = keys
		}
	}
	for _, fp := range []*filePlan{ccPlan, scPlan} {
		m := staged.Files[fp.name]
		if m == nil {
			m = map[string]record{}
			staged.Files[fp.name] = m
		}
		for k, r := range old.Files[fp.name] {
			if !fp.decided[k] {
				m[k] = record{Value: r.Value}
			}
		}
		maps.Copy(m, fp.records)
	}
	if !staged.equal(old) {
		if err := saveState(statePath, staged); err != nil {
			return nil, err
		}
	}
	for _, fp := range []*filePlan{ccPlan, scPlan} {
		if fp.text != string(fp.orig) {
			if err := writeAtomic(fp.path, []byte(fp.text)); err != nil {
				return nil, err
			}
		}
	}
	if settled := staged.settled(); !settled.equal(staged) {
		if err := saveState(statePath, settled); err != nil {
			return nil, err
		}
	}
	return changes, nil
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

// lookupTable finds a table given dotted ("storage.options.overlay").
func lookupTable(doc map[string]any, table string) (map[string]any, bool) {
	m := doc
	for _, t := range strings.Split(table, ".") {
		next, ok := m[t].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// lookup finds table.key, the table given dotted ("storage.options.overlay").
func lookup(doc map[string]any, table, key string) (any, bool) {
	m, ok := lookupTable(doc, table)
	if !ok {
		return nil, false
	}
	v, ok := m[key]
	return v, ok
}

// filePlan is what Apply will do to one file.
type filePlan struct {
	path, name string
	orig       []byte
	text       string // the new content
	changes    []Change
	records    map[string]record // keys podman-service owns after this run
	decided    map[string]bool   // keys decided this run
}

// plan works out the new content of one file without writing it. verify
// may refuse the file as it is; owned tells it which keys are
// podman-service's own.
func plan(path string, want []entry, st state, verify func(doc map[string]any, owned func(table, key string) bool) error) (*filePlan, error) {
	doc, orig, err := Load(path)
	if err != nil {
		return nil, err
	}
	fp := &filePlan{path: path, name: filepath.Base(path), orig: orig, text: string(orig),
		records: map[string]record{}, decided: map[string]bool{}}
	recorded := st.Files[fp.name]
	owned := func(table, key string) bool {
		r, ok := recorded[table+"."+key]
		if !ok {
			return false
		}
		v, ok := lookup(doc, table, key)
		return ok && r.owns(render(v))
	}
	if verify != nil {
		if err := verify(doc, owned); err != nil {
			return nil, err
		}
	}
	missing := map[string][]entry{}
	var order []string
	for _, e := range want {
		k := e.table + "." + e.key
		fp.decided[k] = true
		value := canon(e.value)
		v, ok := lookup(doc, e.table, e.key)
		if !ok {
			if _, seen := missing[e.table]; !seen {
				order = append(order, e.table)
			}
			missing[e.table] = append(missing[e.table], e)
			fp.changes = append(fp.changes, Change{File: path, Key: k, Value: e.value})
			fp.records[k] = record{Value: value}
			continue
		}
		cur := render(v)
		if !owned(e.table, e.key) {
			fp.changes = append(fp.changes, Change{File: path, Key: k, Value: cur, Kept: true})
			continue
		}
		if cur == value {
			fp.changes = append(fp.changes, Change{File: path, Key: k, Value: e.value})
			fp.records[k] = record{Value: value}
			continue
		}
		text, err := update(fp.text, e, cur)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: podman-service wrote [%s] %s = %s on an earlier run and now needs %s, but %v; set it to %s by hand or delete the key",
				ErrCannotUpdate, path, e.table, e.key, cur, e.value, err, e.value)
		}
		fp.text = text
		fp.changes = append(fp.changes, Change{File: path, Key: k, Value: e.value, Previous: cur})
		fp.records[k] = record{Value: value, Prior: cur}
	}
	for _, t := range order {
		fp.text = insert(fp.text, t, missing[t])
	}
	if len(order) > 0 {
		check := map[string]any{}
		if _, err := toml.Decode(fp.text, &check); err != nil {
			return nil, fmt.Errorf("adding keys to %s would break it (%v); add them by hand: %v", path, err, missing)
		}
	}
	return fp, nil
}

// update replaces the value of e.key in its [e.table] section of text
// (a single line "key = value", perhaps indented and with a comment, as
// podman-service writes it) by e.value, and proves by parsing the result
// that this key alone changed.
func update(text string, e entry, cur string) (string, error) {
	before := map[string]any{}
	if _, err := toml.Decode(text, &before); err != nil {
		return "", err
	}
	hdr := regexp.MustCompile(`^[ \t]*\[[ \t]*` + regexp.QuoteMeta(e.table) + `[ \t]*\][ \t]*(#.*)?$`)
	anyHdr := regexp.MustCompile(`^[ \t]*\[`)
	keyLine := regexp.MustCompile(`^([ \t]*)` + regexp.QuoteMeta(e.key) + `[ \t]*=[ \t]*(.*?)(\r?\n)?$`)
	lines := strings.SplitAfter(text, "\n")
	in, done := false, false
	for i, l := range lines {
		if anyHdr.MatchString(l) {
			in = hdr.MatchString(strings.TrimRight(l, "\r\n"))
			continue
		}
		m := keyLine.FindStringSubmatch(l)
		if !in || m == nil {
			continue
		}
		// The value ends at the first "#" before which it parses whole
		// (a "#" inside a string does not end it); the rest is a comment.
		rest, comment, found := m[2], "", false
		for j := range len(rest) {
			if rest[j] == '#' && canon(rest[:j]) == cur {
				v := strings.TrimRight(rest[:j], " \t")
				comment, found = rest[len(v):], true
				break
			}
		}
		if !found && canon(rest) != cur {
			return "", fmt.Errorf("its value is not on a single line")
		}
		lines[i] = m[1] + e.key + " = " + e.value + comment + m[3]
		done = true
		break
	}
	if !done {
		return "", fmt.Errorf("no line \"%s = ...\" below a [%s] header", e.key, e.table)
	}
	out := strings.Join(lines, "")
	after := map[string]any{}
	if _, err := toml.Decode(out, &after); err != nil {
		return "", fmt.Errorf("changing it would break the file (%v)", err)
	}
	tbl, ok := lookupTable(after, e.table)
	if !ok || render(tbl[e.key]) != canon(e.value) {
		return "", fmt.Errorf("changing its line did not change the value")
	}
	old, _ := lookup(before, e.table, e.key)
	tbl[e.key] = old
	if !reflect.DeepEqual(after, before) {
		return "", fmt.Errorf("changing its line would change other keys too")
	}
	return out, nil
}

// canon is the canonical TOML syntax of a value given in TOML syntax ("" if
// it does not parse).
func canon(value string) string {
	doc := map[string]any{}
	if _, err := toml.Decode("v = "+value, &doc); err != nil {
		return ""
	}
	return render(doc["v"])
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

// writeAtomic replaces path durably (kit/atomicfile: temp file, fsync,
// rename, fsync of the directory), keeping an existing file's mode (0644
// for a new one) and creating the directory when missing.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return atomicfile.WriteFile(path, b, mode)
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
