package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
)

// Config is a whole, validated supervisord configuration.
type Config struct {
	// File is the absolute path of the main configuration file.
	File string
	// Supervisord holds [supervisord].
	Supervisord Supervisord
	// UnixHTTP holds [unix_http_server]; nil when the section is absent.
	UnixHTTP *HTTPServer
	// InetHTTP holds [inet_http_server]; nil when the section is absent.
	InetHTTP *HTTPServer
	// Ctl holds [supervisorctl].
	Ctl Supervisorctl
	// Groups are the process groups, in ascending priority then name.
	Groups []*Group
	// Warnings name unknown keys and other suspicious input with file:line.
	Warnings []string
	// Included lists the files read, in reading order.
	Included []string
}

// Supervisord is the [supervisord] section.
type Supervisord struct {
	Logfile         string
	LogfileMaxbytes int64
	LogfileBackups  int
	Pidfile         string
	Childlogdir     string
	Identifier      string
	Environment     []string
	// NoCleanup keeps the AUTO log files of earlier runs (nocleanup=true).
	NoCleanup bool
}

// HTTPServer is [unix_http_server] or [inet_http_server].
type HTTPServer struct {
	File     string      // unix socket path
	Chmod    os.FileMode // unix socket mode
	Chown    string      // user[:group] of the socket, empty to keep ours
	Port     string      // inet host:port
	Username string
	Password string
}

// Supervisorctl is the [supervisorctl] section.
type Supervisorctl struct {
	ServerURL string
	Username  string
	Password  string
}

// Group is a process group: one [program:x] or one [group:x].
type Group struct {
	Name      string
	Priority  int
	Processes []*Process
}

// Process is the fully expanded settings of one process.
type Process struct {
	Name           string
	Group          string
	Program        string
	Command        string
	Directory      string
	User           string
	Umask          int // -1: inherit
	Environment    []string
	Priority       int
	Autostart      bool
	Autorestart    string // "true", "false" or "unexpected"
	Exitcodes      []int
	Startsecs      int
	Startretries   int
	Stopsignal     syscall.Signal
	Stopwaitsecs   int
	Stopasgroup    bool
	Killasgroup    bool
	RedirectStderr bool
	StdoutLogfile  string // path, "AUTO" or "" (NONE)
	StdoutMaxbytes int64
	StdoutBackups  int
	StderrLogfile  string
	StderrMaxbytes int64
	StderrBackups  int
	StdoutPrefix   bool
	// Source is file:line of the [program:x] header, for messages.
	Source string
}

// Group returns the group called name, or nil.
func (c *Config) Group(name string) *Group {
	for _, g := range c.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Load reads path and every file it includes and validates the result.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	doc := newDocument()
	if err := doc.read(abs); err != nil {
		return nil, err
	}
	c := &Config{File: abs, Included: []string{abs}}
	if err := c.include(doc); err != nil {
		return nil, err
	}
	if err := c.build(doc); err != nil {
		return nil, err
	}
	if err := checkTrust(c); err != nil {
		return nil, err
	}
	return c, nil
}

// include reads the files named by [include] files= of the main file, in
// sorted order within each glob; paths are relative to the main file's
// directory. Included files' own [include] sections are not followed, as in
// Python supervisord.
func (c *Config) include(doc *document) error {
	s, ok := doc.section("include")
	if !ok {
		return nil
	}
	v, ok := s.get("files")
	if !ok {
		return fmt.Errorf("%w: %s:%d: [include] has no files= key; list the files or globs to include", ErrInvalid, s.file, s.line)
	}
	text, err := expand(v.text, baseVars(filepath.Dir(v.file)))
	if err != nil {
		return fmt.Errorf("%w: %s:%d: include.files %v", ErrInvalid, v.file, v.line, err)
	}
	base := filepath.Dir(v.file)
	for _, pat := range strings.Fields(text) {
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(base, pat)
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			return fmt.Errorf("%w: %s:%d: include pattern %q: %v", ErrInvalid, v.file, v.line, pat, err)
		}
		if len(matches) == 0 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: no file matches include %q", v.file, v.line, pat))
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			if err := doc.read(m); err != nil {
				return fmt.Errorf("include from %s:%d: %w", v.file, v.line, err)
			}
			c.Included = append(c.Included, m)
		}
	}
	return nil
}

// baseVars are the expansions every value gets: here and ENV_*.
func baseVars(here string) map[string]string {
	vars := map[string]string{"here": here}
	if h, err := os.Hostname(); err == nil {
		vars["host_node_name"] = h
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars["ENV_"+k] = v
		}
	}
	return vars
}

var knownKeys = map[string]map[string]bool{
	"supervisord": set("logfile", "logfile_maxbytes", "logfile_backups", "loglevel", "pidfile", "umask",
		"nodaemon", "silent", "minfds", "minprocs", "nocleanup", "childlogdir", "user", "directory",
		"strip_ansi", "environment", "identifier"),
	"unix_http_server": set("file", "chmod", "chown", "username", "password"),
	"inet_http_server": set("port", "username", "password"),
	"supervisorctl":    set("serverurl", "username", "password", "prompt", "history_file"),
	"include":          set("files"),
	"group":            set("programs", "priority"),
	"program": set("command", "process_name", "numprocs", "numprocs_start", "priority", "autostart",
		"autorestart", "startsecs", "startretries", "user", "stopsignal", "stopwaitsecs", "stopasgroup",
		"killasgroup", "exitcodes", "redirect_stderr", "stdout_logfile", "stdout_logfile_maxbytes",
		"stdout_logfile_backups", "stdout_capture_maxbytes", "stdout_events_enabled", "stdout_syslog",
		"stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups", "stderr_capture_maxbytes",
		"stderr_events_enabled", "stderr_syslog", "environment", "directory", "umask", "serverurl",
		"stdout_prefix"),
}

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func (c *Config) warnUnknown(s *section, kind string) {
	known := knownKeys[kind]
	for _, k := range s.order {
		if !known[k] {
			v := s.keys[k]
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: unknown key %q in [%s] is ignored", v.file, v.line, k, s.name))
		}
	}
}

// field reads and expands one key of a section.
type field struct {
	s    *section
	vars map[string]string
	err  error
}

func (f *field) str(key, def string) string {
	if f.err != nil {
		return def
	}
	v, ok := f.s.get(key)
	if !ok {
		if f.vars != nil && strings.Contains(def, "%(") {
			out, err := expand(def, f.vars)
			if err == nil {
				return out
			}
		}
		return def
	}
	vars := f.vars
	if vars == nil {
		vars = baseVars(filepath.Dir(v.file))
	} else {
		vars["here"] = filepath.Dir(v.file)
	}
	out, err := expand(v.text, vars)
	if err != nil {
		f.err = fmt.Errorf("%w: %s:%d: %s.%s %v", ErrInvalid, v.file, v.line, f.s.name, key, err)
		return def
	}
	return out
}

func (f *field) fail(key, format string, args ...any) {
	if f.err != nil {
		return
	}
	v := f.s.keys[key]
	f.err = fmt.Errorf("%w: %s:%d: %s.%s: %s", ErrInvalid, v.file, v.line, f.s.name, key, fmt.Sprintf(format, args...))
}

func (f *field) boolean(key string, def bool) bool {
	s := f.str(key, "")
	if s == "" {
		return def
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0":
		return false
	}
	f.fail(key, "%q is not a boolean; use true or false", s)
	return def
}

func (f *field) integer(key string, def int) int {
	s := f.str(key, "")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f.fail(key, "%q is not an integer", s)
		return def
	}
	return n
}

func (f *field) bytes(key string, def int64) int64 {
	s := strings.TrimSpace(f.str(key, ""))
	if s == "" {
		return def
	}
	mult := int64(1)
	up := strings.ToUpper(s)
	for suf, m := range map[string]int64{"KB": 1024, "MB": 1024 * 1024, "GB": 1024 * 1024 * 1024} {
		if strings.HasSuffix(up, suf) {
			mult, up = m, strings.TrimSuffix(up, suf)
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(up), 10, 64)
	if err != nil || n < 0 {
		f.fail(key, "%q is not a byte size such as 1024, 10KB or 50MB", s)
		return def
	}
	return n * mult
}

func (f *field) octal(key string, def int) int {
	s := f.str(key, "")
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0"), 8, 32)
	if s == "0" || s == "000" {
		return 0
	}
	if err != nil {
		f.fail(key, "%q is not an octal number such as 022", s)
		return def
	}
	return int(n)
}

// logfile maps NONE to "" and keeps AUTO.
func (f *field) logfile(key string) string {
	s := f.str(key, "AUTO")
	switch strings.ToUpper(s) {
	case "NONE":
		return ""
	case "AUTO":
		return "AUTO"
	}
	return s
}

func (c *Config) build(doc *document) error {
	for _, name := range doc.order {
		s := doc.sections[name]
		kind, _, _ := strings.Cut(name, ":")
		if _, ok := knownKeys[kind]; !ok {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: unknown section [%s] is ignored", s.file, s.line, name))
			continue
		}
		if kind == "program" || kind == "group" {
			if !strings.Contains(name, ":") || strings.TrimSpace(strings.SplitN(name, ":", 2)[1]) == "" {
				return fmt.Errorf("%w: %s:%d: section [%s] needs a name, as in [%s:myname]", ErrInvalid, s.file, s.line, name, kind)
			}
		}
		c.warnUnknown(s, kind)
	}
	if s, ok := doc.section("supervisord"); ok {
		f := &field{s: s}
		sv := Supervisord{
			Logfile:         f.str("logfile", ""),
			LogfileMaxbytes: f.bytes("logfile_maxbytes", 50*1024*1024),
			LogfileBackups:  f.integer("logfile_backups", 10),
			Pidfile:         f.str("pidfile", ""),
			Childlogdir:     f.str("childlogdir", os.TempDir()),
			Identifier:      f.str("identifier", "supervisor"),
			NoCleanup:       f.boolean("nocleanup", false),
		}
		if env := f.str("environment", ""); env != "" && f.err == nil {
			kv, err := parseEnvironment(env)
			if err != nil {
				f.fail("environment", "%v", err)
			}
			sv.Environment = kv
		}
		if f.err != nil {
			return f.err
		}
		if strings.EqualFold(sv.Logfile, "NONE") {
			sv.Logfile = ""
		}
		c.Supervisord = sv
	} else {
		c.Supervisord = Supervisord{Childlogdir: os.TempDir(), Identifier: "supervisor", LogfileMaxbytes: 50 * 1024 * 1024, LogfileBackups: 10}
	}
	if s, ok := doc.section("unix_http_server"); ok {
		f := &field{s: s}
		h := &HTTPServer{File: f.str("file", paths.Socket("", paths.Supervisor)), Chmod: os.FileMode(f.octal("chmod", 0o700)),
			Chown: f.str("chown", ""), Username: f.str("username", ""), Password: f.str("password", "")}
		if f.err != nil {
			return f.err
		}
		if h.Chown != "" {
			if _, _, err := LookupOwner(h.Chown); err != nil {
				f.fail("chown", "%v", err)
				return f.err
			}
		}
		c.UnixHTTP = h
	}
	if s, ok := doc.section("inet_http_server"); ok {
		f := &field{s: s}
		h := &HTTPServer{Port: f.str("port", ""), Username: f.str("username", ""), Password: f.str("password", "")}
		if f.err != nil {
			return f.err
		}
		if h.Port == "" {
			return fmt.Errorf("%w: %s:%d: [inet_http_server] needs port=, e.g. port=127.0.0.1:9001", ErrInvalid, s.file, s.line)
		}
		if !strings.Contains(h.Port, ":") {
			h.Port = ":" + h.Port
		}
		c.InetHTTP = h
	}
	if s, ok := doc.section("supervisorctl"); ok {
		f := &field{s: s}
		c.Ctl = Supervisorctl{ServerURL: f.str("serverurl", ""), Username: f.str("username", ""), Password: f.str("password", "")}
		if f.err != nil {
			return f.err
		}
	}
	return c.buildGroups(doc)
}

func (c *Config) buildGroups(doc *document) error {
	programs := map[string]*section{}
	var names []string
	for _, name := range doc.order {
		if p, ok := strings.CutPrefix(name, "program:"); ok {
			p = strings.TrimSpace(p)
			programs[p] = doc.sections[name]
			names = append(names, p)
		}
	}
	inGroup := map[string]string{}
	for _, name := range doc.order {
		gname, ok := strings.CutPrefix(name, "group:")
		if !ok {
			continue
		}
		gname = strings.TrimSpace(gname)
		s := doc.sections[name]
		f := &field{s: s}
		list := f.str("programs", "")
		prio := f.integer("priority", 999)
		if f.err != nil {
			return f.err
		}
		if strings.TrimSpace(list) == "" {
			return fmt.Errorf("%w: %s:%d: [group:%s] needs programs=, a comma-separated list of program names", ErrInvalid, s.file, s.line, gname)
		}
		g := &Group{Name: gname, Priority: prio}
		for _, p := range strings.Split(list, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			ps, ok := programs[p]
			if !ok {
				return fmt.Errorf("%w: %s:%d: [group:%s] names program %q which has no [program:%s] section", ErrInvalid, s.file, s.line, gname, p, p)
			}
			if other, dup := inGroup[p]; dup {
				return fmt.Errorf("%w: %s:%d: program %q is in both [group:%s] and [group:%s]; a program belongs to one group", ErrInvalid, s.file, s.line, p, other, gname)
			}
			inGroup[p] = gname
			procs, err := c.buildProgram(ps, p, gname)
			if err != nil {
				return err
			}
			g.Processes = append(g.Processes, procs...)
		}
		c.Groups = append(c.Groups, g)
	}
	for _, p := range names {
		if _, grouped := inGroup[p]; grouped {
			continue
		}
		procs, err := c.buildProgram(programs[p], p, p)
		if err != nil {
			return err
		}
		c.Groups = append(c.Groups, &Group{Name: p, Priority: procs[0].Priority, Processes: procs})
	}
	seenGroup := map[string]bool{}
	seenProc := map[string]string{}
	for _, g := range c.Groups {
		if seenGroup[g.Name] {
			return fmt.Errorf("%w: group name %q is used twice (a [group:%s] and a [program:%s] outside it); rename one", ErrInvalid, g.Name, g.Name, g.Name)
		}
		seenGroup[g.Name] = true
		for _, p := range g.Processes {
			if other, dup := seenProc[p.Name]; dup {
				return fmt.Errorf("%w: %s: process name %q is used by groups %q and %q; give one a different process_name", ErrInvalid, p.Source, p.Name, other, g.Name)
			}
			seenProc[p.Name] = g.Name
		}
	}
	sort.SliceStable(c.Groups, func(i, j int) bool {
		if c.Groups[i].Priority != c.Groups[j].Priority {
			return c.Groups[i].Priority < c.Groups[j].Priority
		}
		return c.Groups[i].Name < c.Groups[j].Name
	})
	return nil
}

func (c *Config) buildProgram(s *section, program, group string) ([]*Process, error) {
	src := fmt.Sprintf("%s:%d", s.file, s.line)
	pre := &field{s: s}
	numprocs := pre.integer("numprocs", 1)
	start := pre.integer("numprocs_start", 0)
	if pre.err != nil {
		return nil, pre.err
	}
	if numprocs < 1 {
		pre.fail("numprocs", "must be 1 or more")
		return nil, pre.err
	}
	if _, ok := s.get("command"); !ok {
		return nil, fmt.Errorf("%w: %s: [program:%s] has no command=; add the command line to run", ErrInvalid, src, program)
	}
	if v, ok := s.get("process_name"); numprocs > 1 && (!ok || !strings.Contains(v.text, "process_num")) {
		return nil, fmt.Errorf("%w: %s: [program:%s] has numprocs=%d but process_name does not contain %%(process_num)s, so the names would clash", ErrInvalid, src, program, numprocs)
	}
	var out []*Process
	for i := 0; i < numprocs; i++ {
		vars := baseVars(filepath.Dir(s.file))
		vars["program_name"] = program
		vars["group_name"] = group
		vars["process_num"] = strconv.Itoa(start + i)
		vars["numprocs"] = strconv.Itoa(numprocs)
		f := &field{s: s, vars: vars}
		p := &Process{Program: program, Group: group, Source: src}
		// As in Python, the [supervisord] and the program's own environment
		// are available as %(ENV_X)s to the program's other keys.
		for _, kv := range c.Supervisord.Environment {
			k, v, _ := strings.Cut(kv, "=")
			vars["ENV_"+k] = v
		}
		if env := f.str("environment", ""); env != "" && f.err == nil {
			kv, err := parseEnvironment(env)
			if err != nil {
				f.fail("environment", "%v", err)
			}
			p.Environment = kv
			for _, e := range kv {
				k, v, _ := strings.Cut(e, "=")
				vars["ENV_"+k] = v
			}
		}
		p.Name = f.str("process_name", "%(program_name)s")
		p.Command = f.str("command", "")
		p.Directory = f.str("directory", "")
		p.User = f.str("user", "")
		p.Umask = f.octal("umask", -1)
		p.Priority = f.integer("priority", 999)
		p.Autostart = f.boolean("autostart", true)
		p.Autorestart = strings.ToLower(f.str("autorestart", "unexpected"))
		switch p.Autorestart {
		case "true", "false", "unexpected":
		case "yes", "on", "1":
			p.Autorestart = "true"
		case "no", "off", "0":
			p.Autorestart = "false"
		default:
			f.fail("autorestart", "%q is not one of true, false, unexpected", p.Autorestart)
		}
		codes := f.str("exitcodes", "0")
		for _, cs := range strings.Split(codes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(cs))
			if err != nil {
				f.fail("exitcodes", "%q is not a comma-separated list of integers", codes)
				break
			}
			p.Exitcodes = append(p.Exitcodes, n)
		}
		p.Startsecs = f.integer("startsecs", 1)
		p.Startretries = f.integer("startretries", 3)
		sig := f.str("stopsignal", "TERM")
		if n, err := SignalNumber(sig); err != nil {
			f.fail("stopsignal", "%v", err)
		} else {
			p.Stopsignal = n
		}
		p.Stopwaitsecs = f.integer("stopwaitsecs", 10)
		p.Stopasgroup = f.boolean("stopasgroup", false)
		p.Killasgroup = f.boolean("killasgroup", p.Stopasgroup)
		p.RedirectStderr = f.boolean("redirect_stderr", false)
		p.StdoutLogfile = f.logfile("stdout_logfile")
		p.StdoutMaxbytes = f.bytes("stdout_logfile_maxbytes", 50*1024*1024)
		p.StdoutBackups = f.integer("stdout_logfile_backups", 10)
		p.StderrLogfile = f.logfile("stderr_logfile")
		p.StderrMaxbytes = f.bytes("stderr_logfile_maxbytes", 50*1024*1024)
		p.StderrBackups = f.integer("stderr_logfile_backups", 10)
		p.StdoutPrefix = f.boolean("stdout_prefix", true)
		if f.err != nil {
			return nil, f.err
		}
		if strings.TrimSpace(p.Command) == "" {
			return nil, fmt.Errorf("%w: %s: [program:%s] command= is empty", ErrInvalid, s.at("command"), program)
		}
		if _, err := SplitCommand(p.Command); err != nil {
			return nil, fmt.Errorf("%w: %s: [program:%s] command: %v", ErrInvalid, s.at("command"), program, err)
		}
		if p.Stopasgroup && !p.Killasgroup {
			return nil, fmt.Errorf("%w: %s: [program:%s] stopasgroup=true needs killasgroup=true", ErrInvalid, s.at("killasgroup"), program)
		}
		if p.User != "" {
			if _, err := LookupUser(p.User); err != nil {
				// Name the file and line the value came from: an override
				// file may set it in a section another file opened.
				return nil, fmt.Errorf("%w: %s: [program:%s] user=%s: %v", ErrInvalid, s.at("user"), program, p.User, err)
			}
		}
		if strings.ContainsAny(p.Name, ": ") || p.Name == "" {
			return nil, fmt.Errorf("%w: %s: [program:%s] process_name %q must be non-empty and contain no colon or space", ErrInvalid, s.at("process_name"), program, p.Name)
		}
		out = append(out, p)
	}
	return out, nil
}

// Identity is the resolved credentials of a user= value.
type Identity struct {
	Name   string
	Home   string
	Shell  string
	UID    uint32
	GID    uint32
	Groups []uint32
}

// LookupUser resolves a user name or numeric uid, with its primary and
// supplementary groups.
func LookupUser(name string) (*Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return nil, fmt.Errorf("no such user %q on this system; create it or fix user=", name)
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	id := &Identity{Name: u.Username, Home: u.HomeDir, UID: uint32(uid), GID: uint32(gid), Shell: "/bin/sh"}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				id.Groups = append(id.Groups, uint32(n))
			}
		}
	}
	if sh := shellOf(u.Username); sh != "" {
		id.Shell = sh
	}
	return id, nil
}

func shellOf(name string) string {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == name {
			return f[6]
		}
	}
	return ""
}

// LookupOwner resolves a chown= value "user" or "user:group" to ids.
func LookupOwner(spec string) (uid, gid int, err error) {
	uname, gname, hasGroup := strings.Cut(spec, ":")
	id, err := LookupUser(uname)
	if err != nil {
		return 0, 0, err
	}
	uid, gid = int(id.UID), int(id.GID)
	if hasGroup {
		g, err := user.LookupGroup(gname)
		if err != nil {
			g, err = user.LookupGroupId(gname)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("no such group %q", gname)
		}
		n, _ := strconv.Atoi(g.Gid)
		gid = n
	}
	return uid, gid, nil
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "ILL": syscall.SIGILL,
	"TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT, "BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV, "USR2": syscall.SIGUSR2,
	"PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM, "CHLD": syscall.SIGCHLD,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN,
	"TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ,
	"VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH, "IO": syscall.SIGIO,
	"PWR": syscall.SIGPWR, "SYS": syscall.SIGSYS,
}

// SignalNumber parses a signal name (TERM, SIGTERM) or number as Python's
// supervisor does.
func SignalNumber(s string) (syscall.Signal, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("value %q is not a valid signal name", s)
}

// parseEnvironment reads KEY=val,KEY2="val, with comma" as Python's
// dict_of_key_value_pairs does.
func parseEnvironment(s string) ([]string, error) {
	var out []string
	var key, cur strings.Builder
	inVal := false
	var quote byte
	flush := func() error {
		k := strings.TrimSpace(key.String())
		if k == "" && !inVal && strings.TrimSpace(cur.String()) == "" {
			return nil
		}
		if !inVal || k == "" {
			return fmt.Errorf("unexpected end of key/value pairs in %q; write KEY=value,KEY2=value", s)
		}
		v := cur.String()
		if quote == 0 {
			v = strings.TrimSpace(v)
		}
		out = append(out, k+"="+v)
		key.Reset()
		cur.Reset()
		inVal = false
		return nil
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case !inVal && ch == '=':
			inVal = true
		case !inVal:
			key.WriteByte(ch)
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == ',':
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote in %q", s)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}
