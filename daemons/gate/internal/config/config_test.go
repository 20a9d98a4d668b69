package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnvAndValidate(t *testing.T) {
	env := map[string]string{EnvBind: "0.0.0.0", EnvAdminToken: "terok-admin-abcdefabcdef1234", EnvPollInterval: "90"}
	c := Default()
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9418" || c.AdminToken != "terok-admin-abcdefabcdef1234" || time.Duration(c.PollInterval) != 90*time.Second {
		t.Fatalf("%+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if BindToListen("127.0.0.1:19418") != "127.0.0.1:19418" || BindToListen("::1") != "[::1]:9418" {
		t.Fatal("bind")
	}
	bad := []func(*Config){
		func(c *Config) { c.Listen = "nohost" },
		func(c *Config) { c.AdminToken = "short" },
		func(c *Config) { c.Root = "" },
		func(c *Config) { c.MaxPushBytes = 0 },
	}
	for i, f := range bad {
		c := Default()
		f(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: %v", i, err)
		}
	}
	c = Default()
	if err := c.ApplyEnv(func(k string) string { return map[string]string{EnvPollInterval: "soon"}[k] }); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gate.json")
	os.WriteFile(p, []byte(`{"listen": "127.0.0.1:1234", "poll_interval": "1m"}`), 0o600)
	c := Default()
	if err := c.LoadFile(p); err != nil || c.Listen != "127.0.0.1:1234" || time.Duration(c.PollInterval) != time.Minute {
		t.Fatal(err, c)
	}
	os.WriteFile(p, []byte(`{"lisen": "x"}`), 0o600)
	if err := c.LoadFile(p); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

func TestListenerLimits(t *testing.T) {
	c := Default()
	if c.Listener.MaxConnsPerCredential != 16 || c.Listener.MaxUncredentialedConns != 64 {
		t.Fatalf("defaults: %+v", c.Listener)
	}
	p := filepath.Join(t.TempDir(), "gate.json")
	os.WriteFile(p, []byte(`{"listener": {"max_uncredentialed_conns": 3, "idle_timeout": "30s"}}`), 0o600)
	if err := c.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TEROK_GATE_MAX_CONNS_PER_CREDENTIAL": "4"}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Listener.MaxUncredentialedConns != 3 || c.Listener.IdleTimeout != 30*time.Second ||
		c.Listener.MaxConnsPerCredential != 4 || c.Listener.MaxCredentialedConns != 256 {
		t.Fatalf("file and env: %+v", c.Listener)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte(`{"listener": {"max_conns": 3}}`), 0o600)
	if err := c.LoadFile(p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown listener key: %v", err)
	}
	env["TEROK_GATE_IDLE_TIMEOUT"] = "soon"
	if err := c.ApplyEnv(func(k string) string { return env[k] }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad env: %v", err)
	}
	c = Default()
	c.Listener.MaxConnsPerCredential = 1000
	if err := c.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("per token above the total: %v", err)
	}
}
