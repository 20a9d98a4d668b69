package names

import (
	"fmt"
	"strings"
)

// MaxLen is the longest project or task name.
const MaxLen = 100

// MaxProviderLen is the longest provider name.
const MaxProviderLen = 32

// Check validates a project or task name: letters, digits, '.', '_' and
// '-', at most MaxLen long, not starting with '.' or '-', never "..".
// what names the thing in the error ("project", "task").
func Check(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty; use letters, digits, '.', '_' or '-'", ErrBadName, what)
	}
	if len(s) > MaxLen {
		return fmt.Errorf("%w: %s is longer than %d characters", ErrBadName, what, MaxLen)
	}
	for _, c := range s {
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%w: %s %q may only hold letters, digits, '.', '_' and '-'", ErrBadName, what, s)
		}
	}
	if strings.Contains(s, "..") || s[0] == '.' || s[0] == '-' {
		return fmt.Errorf("%w: %s %q must not start with '.' or '-' nor contain \"..\"", ErrBadName, what, s)
	}
	return nil
}

// CheckProvider validates a provider name: lower-case letters, digits and
// '-', starting with a letter, at most MaxProviderLen long. It is the
// first path segment of the broker's URLs and the stem of a provider file.
func CheckProvider(s string) error {
	if s == "" || len(s) > MaxProviderLen || s[0] < 'a' || s[0] > 'z' {
		return fmt.Errorf("%w: provider %q must start with a-z and be 1 to %d characters long", ErrBadName, s, MaxProviderLen)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: provider %q may only hold a-z, 0-9 and '-'", ErrBadName, s)
		}
	}
	return nil
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
