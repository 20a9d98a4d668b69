package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	base := Default()
	base.Socket, base.StateDir, base.ConfigDir = "/tmp/s.sock", "/tmp/st", "/tmp/cf"
	if err := base.Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	// With the task resolver (the default) the container resolvers are
	// not endpoints: port 53 goes only to the resolver on the task's lo.
	eps, err := base.ParseEndpoints()
	if err != nil || len(eps) != 1 || eps[0].Addr.String() != "169.254.1.2" || eps[0].Port != 9418 {
		t.Fatalf("endpoints %+v %v", eps, err)
	}
	// A task without the shield resolves through the container network's
	// resolvers (UDP and TCP) and is kept off the host side.
	if cd, err := base.ParseContainerDNS(); err != nil || len(cd) != 4 || cd[0].Addr.String() != "10.0.2.3" || cd[0].Proto != "udp" || cd[1].Proto != "tcp" {
		t.Fatalf("container DNS endpoints %+v %v", cd, err)
	}
	if hs, err := base.ParseHostSide(); err != nil || len(hs) != 4 || hs[0].Lo.String() != "10.0.2.0" || hs[0].Hi.String() != "10.0.2.255" {
		t.Fatalf("host side %+v %v", hs, err)
	}
	old := base
	old.TaskResolver = false
	if eps, err := old.ParseEndpoints(); err != nil || len(eps) != 5 || eps[1].Addr.String() != "10.0.2.3" || eps[1].Port != 53 {
		t.Fatalf("endpoints without the task resolver %+v %v", eps, err)
	}
	bad := []func(*Config){
		func(c *Config) { c.SocketMode = "rw" },
		func(c *Config) { c.Endpoints = []string{"169.254.1.2"} },
		func(c *Config) { c.Endpoints = []string{"sctp:1.2.3.4:5"} },
		func(c *Config) { c.ContainerDNS = []string{"dns.example"} },
		func(c *Config) { c.Resolver = "8.8.8.8" },
		func(c *Config) { c.SocketGroup = "no-such-group-tks" },
		func(c *Config) { c.HostSide = []string{"10.0.2.2"} },
		func(c *Config) { c.ResolverRate = 0 },
		func(c *Config) { c.ResolverWorkers = -1 },
		func(c *Config) { c.ResolverBurst = 1 << 20 },
		func(c *Config) { c.DenyNames = []string{"api.openai.com", "https://api.anthropic.com"} },
		func(c *Config) { c.DenyNames = []string{""} },
	}
	for i, f := range bad {
		c := base
		f(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: want ErrInvalid, got %v", i, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	_ = os.WriteFile(p, []byte(`{"endpoints":["udp:203.0.113.1:53"],"log_group":9}`), 0o600)
	c := Default()
	if err := c.LoadFile(p); err != nil || c.LogGroup != 9 || c.Endpoints[0] != "udp:203.0.113.1:53" {
		t.Fatalf("%+v %v", c, err)
	}
	_ = os.WriteFile(p, []byte(`{"deny_names":["API.OpenAI.com.","203.0.113.7","api.openai.com","*.provider.test"]}`), 0o600)
	c = Default()
	if err := c.LoadFile(p); err != nil {
		t.Fatalf("deny_names: %v", err)
	}
	ds, err := c.ParseDenyNames()
	var got []string
	for _, d := range ds {
		got = append(got, d.String())
	}
	if err != nil || strings.Join(got, " ") != "api.openai.com 203.0.113.7 *.provider.test" {
		t.Fatalf("deny_names parsed: %q %v", got, err)
	}
	_ = os.WriteFile(p, []byte(`{"endpoint":[]}`), 0o600)
	if err := c.LoadFile(p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
}
