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

func TestApplyEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c := Default()
	if err := c.ApplyEnv(env(map[string]string{
		EnvEndpoints:    "tcp:10.0.2.2:9418, udp:198.51.100.1:53,",
		EnvContainerDNS: "192.0.2.53",
		EnvResolver:     "192.0.2.1:53",
		EnvSocketGroup:  "0",
		EnvSocketMode:   "0640",
	})); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Endpoints, " ") != "tcp:10.0.2.2:9418 udp:198.51.100.1:53" || strings.Join(c.ContainerDNS, " ") != "192.0.2.53" ||
		c.Resolver != "192.0.2.1:53" || c.SocketGroup != "0" || c.SocketMode != "0640" {
		t.Fatalf("applied: %+v", c)
	}
	// Unset (or empty) variables keep what was there.
	kept := c
	if err := c.ApplyEnv(env(nil)); err != nil || strings.Join(c.Endpoints, ",") != strings.Join(kept.Endpoints, ",") || c.SocketMode != "0640" {
		t.Fatalf("nothing set changed %+v (%v)", c, err)
	}
	// A value that cannot work names its variable and what it wants.
	for _, tc := range []struct{ name, value, want string }{
		{EnvEndpoints, "tcp:10.0.2.2:9418,169.254.1.2", "[tcp:|udp:]ADDR:PORT"},
		{EnvContainerDNS, "dns.example", "want an IP address"},
		{EnvResolver, "192.0.2.1", "want IP:PORT"},
		{EnvSocketGroup, "tks-no-such-group", "give a group of this system"},
		{EnvSocketMode, "rw-rw----", "want an octal mode"},
		{EnvSocketMode, "01777", "want an octal mode"},
	} {
		c := Default()
		err := c.ApplyEnv(env(map[string]string{tc.name: tc.value}))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.name+"=") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: %v; want ErrInvalid naming the variable and %q", tc.name, tc.value, err, tc.want)
		}
	}
}

// Validate's errors name the setting as a user sets it (config.json key,
// flag, variable) and what it wants.
func TestValidateNamesTheSetting(t *testing.T) {
	base := Default()
	base.Socket, base.StateDir, base.ConfigDir = "/tmp/s.sock", "/tmp/st", "/tmp/cf"
	for _, tc := range []struct {
		set  func(*Config)
		want []string
	}{
		{func(c *Config) { c.SocketMode = "rw" }, []string{"socket_mode", "--socket-mode", EnvSocketMode, "octal"}},
		{func(c *Config) { c.SocketGroup = "tks-no-such-group" }, []string{"socket_group", "--socket-group", EnvSocketGroup}},
		{func(c *Config) { c.Endpoints = []string{"169.254.1.2"} }, []string{"endpoints", "--endpoint", EnvEndpoints, `"169.254.1.2"`}},
		{func(c *Config) { c.ContainerDNS = []string{"dns.example"} }, []string{"container_dns", "--container-dns", EnvContainerDNS}},
		{func(c *Config) { c.Resolver = "192.0.2.1" }, []string{"resolver", "--resolver", EnvResolver, "IP:PORT"}},
		{func(c *Config) { c.HostSide = []string{"10.0.2.2"} }, []string{"host_side", "--host-side", "CIDR"}},
		{func(c *Config) { c.MinTTLSeconds = 0 }, []string{"min_ttl_seconds (config.json)", "at least 1"}},
		{func(c *Config) { c.GraceSeconds = -1 }, []string{"grace_seconds (config.json)", "negative"}},
		{func(c *Config) { c.ResolverBurst = 0 }, []string{"resolver_burst (config.json)", "1 to 100000"}},
		{func(c *Config) { c.DenyNames = []string{"https://x.test"} }, []string{"deny_names (config.json)", "host names"}},
		{func(c *Config) { c.StateDir = "" }, []string{"state directory (--state)"}},
	} {
		c := base
		tc.set(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("want ErrInvalid naming %q, got %v", tc.want, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: does not name %q", err, w)
			}
		}
	}
}
