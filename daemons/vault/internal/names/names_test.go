package names

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"demo", true}, {"a.b_c-9", true}, {"T1", true},
		{"", false}, {".hidden", false}, {"-x", false}, {"a..b", false}, {"a/b", false}, {"a b", false},
		{string(make([]byte, MaxLen+1)), false},
	} {
		err := Check("task", tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("Check(%q) error %v is not ErrBadName", tc.in, err)
		}
	}
}

func TestCheckProvider(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"anthropic", true}, {"my-proxy2", true},
		{"", false}, {"Anthropic", false}, {"2x", false}, {"a_b", false}, {"a.b", false}, {"../x", false},
		{"abcdefghijabcdefghijabcdefghijabc", false},
	} {
		if err := CheckProvider(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckProvider(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
