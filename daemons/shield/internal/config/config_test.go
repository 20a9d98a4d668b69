package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestValidate(t *testing.T) {
	base := Default()
	base.Socket, base.StateDir, base.ConfigDir = "/tmp/s.sock", "/tmp/st", "/tmp/cf"
	if err := base.Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	eps, _ := base.ParseEndpoints()
	if len(eps) != 5 || eps[0].Addr.String() != "169.254.1.2" || eps[0].Port != 9418 {
		t.Fatalf("endpoints %+v", eps)
	}
	bad := []func(*Config){
		func(c *Config) { c.SocketMode = "rw" },
		func(c *Config) { c.Endpoints = []string{"169.254.1.2"} },
		func(c *Config) { c.Endpoints = []string{"sctp:1.2.3.4:5"} },
		func(c *Config) { c.ContainerDNS = []string{"dns.example"} },
		func(c *Config) { c.Resolver = "8.8.8.8" },
		func(c *Config) { c.SocketGroup = "no-such-group-tks" },
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
	_ = os.WriteFile(p, []byte(`{"endpoint":[]}`), 0o600)
	if err := c.LoadFile(p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
}
