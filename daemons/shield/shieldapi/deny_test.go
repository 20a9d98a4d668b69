package shieldapi

import (
	"strings"
	"testing"
)

func TestDenyValue(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
		err  string
	}{
		{nil, "", ""},
		{[]string{"https://api.anthropic.com", "https://generativelanguage.googleapis.com/", "https://api.openai.com"},
			"api.anthropic.com,api.openai.com,generativelanguage.googleapis.com", ""},
		{[]string{"API.OpenAI.com.", "api.openai.com:443", "https://api.openai.com:8443/v1"}, "api.openai.com", ""},
		{[]string{"*.provider.test", "203.0.113.7", "198.51.100.9/24", "[2001:db8::1]:443"}, "*.provider.test,198.51.100.0/24,2001:db8::1,203.0.113.7", ""},
		{[]string{"api.openai.com", "not a host"}, "", `deny entry "not a host"`},
		{[]string{"https://"}, "", `deny entry "https://": not a URL with a host`},
		{[]string{"a,b.example"}, "", `deny entry "a,b.example"`},
		{[]string{""}, "", `deny entry ""`},
	} {
		got, err := DenyValue(c.in...)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("DenyValue(%q): %q, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("DenyValue(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
