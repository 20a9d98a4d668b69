package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var fmtRe = regexp.MustCompile(`%(%|\(([^)]*)\)([-#0 +]*[0-9]*(?:\.[0-9]+)?)([sdirf]))`)

// expand applies Python %-formatting with named values: %(name)s,
// %(name)d, %(name)02d and %% for a literal percent sign.
func expand(s string, vars map[string]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var missing []string
	var bad error
	out := fmtRe.ReplaceAllStringFunc(s, func(m string) string {
		if m == "%%" {
			return "%"
		}
		sub := fmtRe.FindStringSubmatch(m)
		name, flags, verb := sub[2], sub[3], sub[4]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		switch verb {
		case "s", "r":
			return fmt.Sprintf("%"+flags+"s", v)
		case "f":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				bad = fmt.Errorf("%%(%s)%s needs a number, %q is not one", name, flags+verb, v)
				return m
			}
			return fmt.Sprintf("%"+flags+"f", f)
		default:
			n, err := strconv.Atoi(v)
			if err != nil {
				bad = fmt.Errorf("%%(%s)%s needs an integer, %q is not one", name, flags+verb, v)
				return m
			}
			return fmt.Sprintf("%"+flags+"d", n)
		}
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", fmt.Errorf("contains names (%s) which cannot be expanded", strings.Join(missing, ", "))
	}
	if bad != nil {
		return "", bad
	}
	if strings.Contains(fmtRe.ReplaceAllString(s, ""), "%") {
		return "", fmt.Errorf("has a %% that is not a %%(name)s reference; write %%%% for a literal %%")
	}
	return out, nil
}
