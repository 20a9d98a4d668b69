package entrypoint

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// OverridePrefix starts every supervisor override variable:
// TEROK_SUPERVISOR__<PROGRAM>__<KEY>=value.
const OverridePrefix = "TEROK_SUPERVISOR__"

// programKeys are the [program:x] keys terok-supervisord reads (see
// docs/supervisor.md). A variable naming another key is refused, so a typo
// does not pass unnoticed.
var programKeys = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`command process_name numprocs numprocs_start priority autostart
		autorestart startsecs startretries user stopsignal stopwaitsecs stopasgroup killasgroup exitcodes
		redirect_stderr stdout_logfile stdout_logfile_maxbytes stdout_logfile_backups stdout_capture_maxbytes
		stdout_events_enabled stdout_syslog stderr_logfile stderr_logfile_maxbytes stderr_logfile_backups
		stderr_capture_maxbytes stderr_events_enabled stderr_syslog environment directory umask serverurl
		stdout_prefix`) {
		programKeys[k] = true
	}
}

// Override is one key of one program, taken from the environment.
type Override struct {
	Var     string // the variable it came from
	Program string // program name, e.g. terok-shield
	Key     string // program key, e.g. autostart
	Value   string
}

// ParseOverrides picks the TEROK_SUPERVISOR__<PROGRAM>__<KEY>=value
// variables out of environ (KEY=value strings, as os.Environ gives) and
// returns them sorted by program and key. In <PROGRAM> an underscore stands
// for a dash (TEROK_SHIELD → terok-shield); names are case-insensitive and
// lowered. Any variable starting with TEROK_SUPERVISOR_ that does not have
// this form, names an unknown key, carries a value the ini format cannot
// hold, or sets a key a second time, is an error naming it.
func ParseOverrides(environ []string) ([]Override, error) {
	var out []Override
	seen := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "TEROK_SUPERVISOR_") {
			continue
		}
		o, err := parseOne(name, value)
		if err != nil {
			return nil, err
		}
		id := o.Program + "/" + o.Key
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: %s and %s both set key %q of program %q; keep one", ErrMalformed, prev, name, o.Key, o.Program)
		}
		seen[id] = name
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Program != out[j].Program {
			return out[i].Program < out[j].Program
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

const overrideForm = "write it as TEROK_SUPERVISOR__<PROGRAM>__<KEY>=value, e.g. TEROK_SUPERVISOR__TEROK_SHIELD__AUTOSTART=false"

func parseOne(name, value string) (Override, error) {
	bad := func(format string, a ...any) (Override, error) {
		return Override{}, fmt.Errorf("%w: %s: %s", ErrMalformed, name, fmt.Sprintf(format, a...))
	}
	rest, ok := strings.CutPrefix(name, OverridePrefix)
	if !ok {
		return bad("a supervisor override starts with %s (two underscores); %s", OverridePrefix, overrideForm)
	}
	parts := strings.Split(rest, "__")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return bad("expected a program and a key separated by two underscores; %s", overrideForm)
	}
	prog, key := strings.ToLower(parts[0]), strings.ToLower(parts[1])
	if !validName(prog) {
		return bad("program name %q may hold only letters, digits and single underscores (an underscore stands for a dash), starting and ending with a letter or digit", parts[0])
	}
	if !programKeys[key] {
		return bad("%q is not a program key terok-supervisord knows (see docs/supervisor.md, e.g. COMMAND, AUTOSTART, ENVIRONMENT, STOPWAITSECS)", parts[1])
	}
	if strings.ContainsAny(value, "\n\r") {
		return bad("the value holds a line break, which a supervisor config value cannot")
	}
	if strings.Contains(value, " ;") || strings.Contains(value, " #") || strings.Contains(value, "\t;") || strings.Contains(value, "\t#") {
		return bad("the value holds ' ;' or ' #', which starts a comment in a supervisor config file; drop the space before it or use a mounted file in /etc/terok/supervisor.d/")
	}
	return Override{Var: name, Program: strings.ReplaceAll(prog, "_", "-"), Key: key, Value: strings.TrimSpace(value)}, nil
}

func validName(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// RenderOverrides writes the overrides as a supervisor config file, one
// [program:NAME] section per program, each key preceded by a comment naming
// the variable it came from (so a supervisor error about file:line leads
// back to it). With no overrides the file holds only its header.
func RenderOverrides(ovs []Override) []byte {
	var b bytes.Buffer
	b.WriteString("; Written by the terok entrypoint from TEROK_SUPERVISOR__<PROGRAM>__<KEY>\n")
	b.WriteString("; environment variables at container start; read after every other file.\n")
	b.WriteString("; Do not edit: it is rewritten at each start.\n")
	cur := ""
	for _, o := range ovs {
		if o.Program != cur {
			fmt.Fprintf(&b, "\n[program:%s]\n", o.Program)
			cur = o.Program
		}
		fmt.Fprintf(&b, "; from %s\n%s = %s\n", o.Var, o.Key, o.Value)
	}
	return b.Bytes()
}
