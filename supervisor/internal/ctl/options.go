package ctl

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Options is what the command line says, before the config file is read.
// A nil string pointer means "not given", which matters because Python's
// client sends credentials only when both username and password are set.
type Options struct {
	ConfigFile  string  // -c/--configuration
	ServerURL   string  // -s/--serverurl
	Username    *string // -u/--username
	Password    *string // -p/--password
	HistoryFile string  // -r/--history_file (accepted, unused: no readline)
	Interactive bool    // -i/--interactive
	Help        bool    // -h/-?/--help
	Args        []string
}

type optSpec struct {
	name    string // attribute, for "conflicting command line option"
	short   byte
	long    string
	hasArg  bool
	setting func(o *Options, v string)
}

var optSpecs = []optSpec{
	{"help", 'h', "help", false, func(o *Options, _ string) { o.Help = true }},
	{"help", '?', "", false, func(o *Options, _ string) { o.Help = true }},
	{"configfile", 'c', "configuration", true, func(o *Options, v string) { o.ConfigFile = v }},
	{"interactive", 'i', "interactive", false, func(o *Options, _ string) { o.Interactive = true }},
	{"serverurl", 's', "serverurl", true, func(o *Options, v string) { o.ServerURL = v }},
	{"username", 'u', "username", true, func(o *Options, v string) { o.Username = &v }},
	{"password", 'p', "password", true, func(o *Options, v string) { o.Password = &v }},
	{"history", 'r', "history_file", true, func(o *Options, v string) { o.HistoryFile = v }},
}

// ParseArgs parses argv (without the program name) the way Python's getopt
// does for supervisorctl: options first, the first non-option word starts
// the command, long options may be abbreviated to a unique prefix.
func ParseArgs(args []string) (*Options, error) {
	o := &Options{}
	seen := map[string]bool{}
	apply := func(sp *optSpec, opt, val string) error {
		if sp.name == "help" {
			o.Help = true
			return nil
		}
		if sp.name == "serverurl" && !isURL(val) {
			return fmt.Errorf("%w: invalid value for %s %s: value %s is not a URL", ErrUsage, opt, pyRepr(val), pyRepr(val))
		}
		if seen[sp.name] {
			return fmt.Errorf("%w: conflicting command line option %s", ErrUsage, pyRepr(opt))
		}
		seen[sp.name] = true
		sp.setting(o, val)
		return nil
	}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			sp, err := matchLong(name)
			if err != nil {
				return nil, err
			}
			if sp.hasArg && !hasVal {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("%w: option --%s requires argument", ErrUsage, sp.long)
				}
				i++
				val = args[i]
			} else if !sp.hasArg && hasVal {
				return nil, fmt.Errorf("%w: option --%s must not have an argument", ErrUsage, sp.long)
			}
			if err := apply(sp, "--"+sp.long, val); err != nil {
				return nil, err
			}
			continue
		}
		cluster := a[1:]
		for len(cluster) > 0 {
			ch := cluster[0]
			cluster = cluster[1:]
			sp := matchShort(ch)
			if sp == nil {
				return nil, fmt.Errorf("%w: option -%c not recognized", ErrUsage, ch)
			}
			val := ""
			if sp.hasArg {
				if cluster == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("%w: option -%c requires argument", ErrUsage, ch)
					}
					i++
					cluster = args[i]
				}
				val, cluster = cluster, ""
			}
			if err := apply(sp, "-"+string(ch), val); err != nil {
				return nil, err
			}
		}
	}
	o.Args = append([]string(nil), args[i:]...)
	return o, nil
}

func matchShort(ch byte) *optSpec {
	for i := range optSpecs {
		if optSpecs[i].short == ch {
			return &optSpecs[i]
		}
	}
	return nil
}

func matchLong(name string) (*optSpec, error) {
	var hits []*optSpec
	for i := range optSpecs {
		l := optSpecs[i].long
		if l == "" {
			continue
		}
		if l == name {
			return &optSpecs[i], nil
		}
		if strings.HasPrefix(l, name) {
			hits = append(hits, &optSpecs[i])
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("%w: option --%s not recognized", ErrUsage, name)
	case 1:
		return hits[0], nil
	}
	return nil, fmt.Errorf("%w: option --%s not a unique prefix", ErrUsage, name)
}

// isURL is Python supervisor's datatypes.url: a scheme and a host or path.
func isURL(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		return false
	}
	return u.Host != "" || u.Path != "" || u.Opaque != ""
}

// searchPaths is where supervisorctl looks for a config without -c:
// terok's image config first, then Python supervisorctl's own list
// (relative to the binary's grandparent directory, then the working
// directory, then /etc).
func searchPaths(argv0 string) []string {
	here := filepath.Dir(filepath.Dir(argv0))
	return []string{
		"/etc/terok/supervisord.conf",
		pyJoin(here, "etc", "supervisord.conf"),
		pyJoin(here, "supervisord.conf"),
		"supervisord.conf",
		"etc/supervisord.conf",
		"/etc/supervisord.conf",
		"/etc/supervisor/supervisord.conf",
	}
}

// pyJoin is os.path.join: an empty head adds nothing.
func pyJoin(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}

// firstExisting returns the first path that exists, or "".
func firstExisting(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// pyRepr quotes s as Python's repr() does for a str.
func pyRepr(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	var b strings.Builder
	b.WriteString(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case string(r) == q:
			b.WriteString(`\` + q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(q)
	return b.String()
}
