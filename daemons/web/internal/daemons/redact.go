package daemons

import (
	"regexp"
	"strings"
)

// redactions find secrets in log text by their shape: terok's tokens
// (terok-g-<hex> and kin), a URL's user part (git clone
// http://TOKEN@host), "Bearer X", and the value after a word naming a
// secret (token, secret, password, api key, authorization).
var redactions = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\bterok-[a-z]{1,8}-[0-9a-fA-F]{16,}\b`), "[redacted]"},
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s"']+@`), "${1}[redacted]@"},
	{regexp.MustCompile(`(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}[redacted]"},
	{regexp.MustCompile(`(?i)\b((?:access[_ -]?|admin[_ -]?|web[_ -]?|gate[_ -]?)?token|secret|passw(?:or)?d|api[_-]?key|authorization)("?\s*[:=]\s*"?|\s+)([A-Za-z0-9._~+/=-]{12,})`), "${1}${2}[redacted]"},
}

// Redact removes secrets from log text: every literal in secrets (at
// least 8 characters long), and everything shaped like one.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 8 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}
