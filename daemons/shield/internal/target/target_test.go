package target

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in, want string
		domain   bool
		bad      bool
	}{
		{in: "203.0.113.7", want: "203.0.113.7"},
		{in: " 198.51.100.9/24 ", want: "198.51.100.0/24"},
		{in: "2001:db8::1", want: "2001:db8::1"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{in: "GitHub.com.", want: "github.com", domain: true},
		{in: "_dmarc.example.org", want: "_dmarc.example.org", domain: true},
		{in: "*.CDN.example.net", want: "*.cdn.example.net", domain: true},
		{in: "", bad: true},
		{in: "*.com", bad: true},
		{in: "*example.com", bad: true},
		{in: "a.*.example.com", bad: true},
		{in: "localhost", bad: true},
		{in: "1.2.3.999", bad: true},
		{in: "10.0.0.0/33", bad: true},
		{in: "exa mple.org", bad: true},
		{in: "-bad.example.org", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "http://example.org", bad: true},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if c.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) = %v, %v; want ErrInvalid", c.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got.String() != c.want || got.IsDomain() != c.domain {
			t.Errorf("Parse(%q) = %q (domain %v), want %q (domain %v)", c.in, got, got.IsDomain(), c.want, c.domain)
		}
	}
}

func TestMatches(t *testing.T) {
	w, _ := Parse("*.example.com")
	e, _ := Parse("api.example.com")
	cases := []struct {
		t    Target
		name string
		want bool
	}{
		{w, "a.example.com", true},
		{w, "a.b.example.com", true},
		{w, "example.com", false},
		{w, "badexample.com", false},
		{e, "api.example.com", true},
		{e, "x.api.example.com", false},
		{e, "example.com", false},
	}
	for _, c := range cases {
		if got := c.t.Matches(c.name); got != c.want {
			t.Errorf("%s matches %s = %v, want %v", c.t, c.name, got, c.want)
		}
	}
}
