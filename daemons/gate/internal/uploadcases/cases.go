package uploadcases

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed testdata/upload-requests.txt
var table string

// NoOID stands for an object no repository of the tests has.
var NoOID = strings.Repeat("1", 40)

// Case is one line of the table.
type Case struct {
	Name string
	// V2 is the protocol the body is written for (else v0).
	V2 bool
	// Want is "ok" or a piece of the gate's error.
	Want string
	// Stricter marks a body git itself would answer that the gate
	// refuses on purpose.
	Stricter bool
	packets  []string
}

// OK reports whether the gate's checks pass the body.
func (c Case) OK() bool { return c.Want == "ok" }

// Protocol is the Git-Protocol header value the body is written for.
func (c Case) Protocol() string {
	if c.V2 {
		return "version=2"
	}
	return ""
}

// All returns every case of the table.
func All() ([]Case, error) {
	var out []Case
	for i, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.SplitN(l, "|", 4)
		if len(f) != 4 {
			return nil, fmt.Errorf("upload-requests.txt:%d: want 4 fields split by |", i+1)
		}
		c := Case{Name: strings.TrimSpace(f[0]), V2: strings.TrimSpace(f[1]) == "2", Want: strings.TrimSpace(f[2])}
		c.Want, c.Stricter = strings.CutPrefix(c.Want, "!")
		if p := strings.TrimSpace(f[3]); p != "" {
			c.packets = strings.Split(p, " ; ")
		}
		out = append(out, c)
	}
	return out, nil
}

// Body is the case's bytes with oid for OID.
func (c Case) Body(oid string) ([]byte, error) {
	var b strings.Builder
	for _, p := range c.packets {
		p = strings.TrimSpace(p)
		switch {
		case p == "0000" || p == "0001" || p == "0002":
			b.WriteString(p)
		case strings.HasPrefix(p, "raw:"):
			b.WriteString(strings.TrimPrefix(p, "raw:"))
		default:
			s, err := strconv.Unquote(`"` + p + `"`)
			if err != nil {
				return nil, fmt.Errorf("%s: packet %q: %v", c.Name, p, err)
			}
			s = strings.ReplaceAll(strings.ReplaceAll(s, "NOOID", NoOID), "OID", oid)
			fmt.Fprintf(&b, "%04x%s", len(s)+4, s)
		}
	}
	return []byte(b.String()), nil
}
