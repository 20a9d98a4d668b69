package names

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxLen is the longest accepted project or task name.
const MaxLen = 100

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Check returns nil when s is a valid project or task name: characters
// [A-Za-z0-9._-], at most MaxLen long, not starting with '.' or '-', and
// never containing "..". what names the thing for the error message.
func Check(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: %s is empty; use letters, digits, '.', '_' or '-'", ErrBadName, what)
	case len(s) > MaxLen:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrBadName, what, MaxLen)
	case !nameRE.MatchString(s):
		return fmt.Errorf("%w: %s %q may only hold letters, digits, '.', '_' and '-'", ErrBadName, what, s)
	case strings.Contains(s, ".."):
		return fmt.Errorf("%w: %s %q must not contain \"..\"", ErrBadName, what, s)
	case s[0] == '.' || s[0] == '-':
		return fmt.Errorf("%w: %s %q must not start with '.' or '-'", ErrBadName, what, s)
	}
	return nil
}

// CheckProject validates a project (repository) name: Check's rules, and
// no ".git" at the end. The gate adds .git itself in clone URLs
// (/<project>.git), so a project "foo.git" would be cloned as
// foo.git.git; the name is refused, in the API and in URL paths alike,
// with the name to use instead.
func CheckProject(s string) error {
	if err := Check("project", s); err != nil {
		return err
	}
	if base, ok := strings.CutSuffix(s, ".git"); ok {
		if base == "" || Check("project", base) != nil {
			return fmt.Errorf("%w: project %q must not end in \".git\"", ErrBadName, s)
		}
		return fmt.Errorf("%w: project %q must not end in \".git\": the gate adds it in clone URLs (…/%s.git); name the project %q",
			ErrBadName, s, base, base)
	}
	return nil
}

var branchRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// CheckBranch validates a branch name given to the admin API (short form,
// without refs/heads/).
func CheckBranch(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: branch is empty", ErrBadName)
	case len(s) > 200:
		return fmt.Errorf("%w: branch is longer than 200 characters", ErrBadName)
	case !branchRE.MatchString(s):
		return fmt.Errorf("%w: branch %q may only hold letters, digits, '.', '_', '-' and '/'", ErrBadName, s)
	case strings.Contains(s, "..") || strings.Contains(s, "//") || strings.HasPrefix(s, "/") ||
		strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".lock") || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "refs/"):
		return fmt.Errorf("%w: branch %q is not a valid short branch name", ErrBadName, s)
	}
	return nil
}
