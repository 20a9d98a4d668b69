package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOrder(t *testing.T) {
	c := Default()
	if c.Listen != "127.0.0.1:9419" || c.SocketMode != 0o660 || !strings.HasSuffix(c.ConfigDir, "system/vault") {
		t.Fatalf("defaults %+v", c)
	}
	f := filepath.Join(t.TempDir(), "vault.json")
	os.WriteFile(f, []byte(`{"listen": "127.0.0.1:1", "keep": "1h", "socket_mode": "0600", "limits": {"max_request_bytes": 7}, "listener": {"max_conns_per_credential": 4}}`), 0o600)
	if err := c.LoadFile(f); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvBind: "0.0.0.0", EnvKeyFile: "/run/secrets/k", EnvSecretWriters: "root", "TEROK_VAULT_MAX_CREDENTIALED_CONNS": "9"}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9419" || c.Keep.D() != time.Hour || c.SocketMode != 0o600 || c.Limits.MaxRequestBytes != 7 ||
		c.Listener.MaxConnsPerCredential != 4 || c.Listener.MaxCredentialedConns != 9 || c.Listener.IdleTimeout != 2*time.Minute || c.KeyPath() != "/run/secrets/k" || c.SecretWriters != WritersRoot {
		t.Errorf("after file and env: %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"listen":      func(c *Config) { c.Listen = "nope" },
		"world mode":  func(c *Config) { c.SocketMode = 0o666 },
		"writers":     func(c *Config) { c.SecretWriters = "anyone" },
		"relative":    func(c *Config) { c.KeyFile = "key" },
		"zero limit":  func(c *Config) { c.Limits.MaxRequestBytes = 0 },
		"zero timout": func(c *Config) { c.Limits.UpstreamHeaderTimeout = 0 },
		"zero conns":  func(c *Config) { c.Listener.MaxCredentialedConns = 0 },
		"zero idle":   func(c *Config) { c.Listener.IdleTimeout = 0 },
	} {
		c := Default()
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := Default()
	if err := c.ApplyEnv(func(k string) string { return map[string]string{"TEROK_VAULT_MAX_CONNS_PER_CREDENTIAL": "many"}[k] }); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "TEROK_VAULT_MAX_CONNS_PER_CREDENTIAL") {
		t.Errorf("a listener limit that is no number: %v", err)
	}
	f := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(f, []byte(`{"lisen": "x"}`), 0o600)
	c = Default()
	if err := c.LoadFile(f); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "lisen") {
		t.Errorf("unknown key: %v", err)
	}
}
