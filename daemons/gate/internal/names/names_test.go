package names

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	good := []string{"a", "proj", "my-proj_1.2", "A.b-c_d", "x.git"}
	bad := []string{"", "..", "../x", "a/b", "/abs", "a..b", ".hidden", "-flag", "a\x00b", "a b", "ü", "%2e%2e",
		string(make([]byte, MaxLen+1))}
	for _, s := range good {
		if err := Check("project", s); err != nil {
			t.Errorf("Check(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range bad {
		if err := Check("project", s); !errors.Is(err, ErrBadName) {
			t.Errorf("Check(%q) = %v, want ErrBadName", s, err)
		}
	}
}

func TestCheckBranch(t *testing.T) {
	for _, s := range []string{"main", "feature/x", "task-1.2"} {
		if err := CheckBranch(s); err != nil {
			t.Errorf("CheckBranch(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "a..b", "/x", "x/", "a//b", "x.lock", "-f", "refs/heads/x", "a b", "a:b"} {
		if err := CheckBranch(s); !errors.Is(err, ErrBadName) {
			t.Errorf("CheckBranch(%q) = %v, want ErrBadName", s, err)
		}
	}
}
