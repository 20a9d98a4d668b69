package names

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	good := []string{"a", "proj", "my-proj_1.2", "A.b-c_d", "x.git", strings.Repeat("a", MaxLen)}
	for _, s := range good {
		if err := Check("project", s); err != nil {
			t.Errorf("Check(%q) = %v, want nil", s, err)
		}
	}
	// Each bad name with the message a user reads.
	bad := []struct{ name, msg string }{
		{"", "project is empty; use letters, digits, '.', '_' or '-'"},
		{"..", `project ".." must not contain ".."`},
		{"../x", `project "../x" may only hold letters, digits, '.', '_' and '-'`},
		{"a/b", `project "a/b" may only hold`},
		{"/abs", `project "/abs" may only hold`},
		{"a..b", `project "a..b" must not contain ".."`},
		{".hidden", `project ".hidden" must not start with '.' or '-'`},
		{"-flag", `project "-flag" must not start with '.' or '-'`},
		{"a\x00b", `may only hold`},
		{"a b", `project "a b" may only hold`},
		{"ü", `may only hold`},
		{"%2e%2e", `project "%2e%2e" may only hold`},
		// The length rule on its own: characters the pattern accepts.
		{strings.Repeat("a", MaxLen+1), "project is longer than 100 characters"},
	}
	for _, c := range bad {
		err := Check("project", c.name)
		if !errors.Is(err, ErrBadName) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Check(%q) = %v, want ErrBadName saying %q", c.name, err, c.msg)
		}
	}
}

func TestCheckProject(t *testing.T) {
	if err := CheckProject("foo"); err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string]string{
		"foo.git": `project "foo.git" must not end in ".git": the gate adds it in clone URLs (…/foo.git); name the project "foo"`,
		".git":    `project ".git" must not start with '.' or '-'`,
		"-x.git":  `must not start with '.' or '-'`,
		"a/b.git": `may only hold`,
	} {
		err := CheckProject(name)
		if !errors.Is(err, ErrBadName) || !strings.Contains(err.Error(), msg) {
			t.Errorf("CheckProject(%q) = %v, want %q", name, err, msg)
		}
	}
}

func TestCheckBranch(t *testing.T) {
	for _, s := range []string{"main", "feature/x", "task-1.2", strings.Repeat("b", 200)} {
		if err := CheckBranch(s); err != nil {
			t.Errorf("CheckBranch(%q) = %v", s, err)
		}
	}
	for s, msg := range map[string]string{
		"":                       "branch is empty",
		strings.Repeat("b", 201): "branch is longer than 200 characters",
		"a..b":                   `branch "a..b" is not a valid short branch name`,
		"/x":                     `branch "/x" is not a valid`,
		"x/":                     `branch "x/" is not a valid`,
		"a//b":                   `branch "a//b" is not a valid`,
		"x.lock":                 `branch "x.lock" is not a valid`,
		"-f":                     `branch "-f" is not a valid`,
		"refs/heads/x":           `branch "refs/heads/x" is not a valid`,
		"a b":                    `branch "a b" may only hold letters, digits, '.', '_', '-' and '/'`,
		"a:b":                    `branch "a:b" may only hold`,
	} {
		err := CheckBranch(s)
		if !errors.Is(err, ErrBadName) || !strings.Contains(err.Error(), msg) {
			t.Errorf("CheckBranch(%q) = %v, want %q", s, err, msg)
		}
	}
}
