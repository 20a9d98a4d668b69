package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base is a valid configuration in temporary directories.
func base(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	entry := filepath.Join(dir, "terok-entry")
	if err := os.WriteFile(entry, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Socket, c.StateDir, c.ConfigDir, c.RunDir, c.Entry = filepath.Join(dir, "web.sock"), dir, dir, dir, entry
	return c
}

// TestOrder: the file, then the environment, then what the caller sets
// (flags), then Validate, which parses TEROK_PUBLIC_URL once.
func TestOrder(t *testing.T) {
	c := base(t)
	if err := c.LoadFile("testdata/web.json"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvListen: "127.0.0.1:28566", EnvGatePort: "19418", EnvSessionMax: "48h", EnvToken: "fixed-token-0123456789", EnvVaultBind: "0.0.0.0"}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	c.TaskGateHost = "gate.internal" // a flag
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:28566" || c.GateListen != "0.0.0.0:19418" || c.GatePort() != 19418 || c.Token != "fixed-token-0123456789" ||
		time.Duration(c.SessionIdle) != 2*time.Hour || time.Duration(c.SessionMax) != 48*time.Hour ||
		strings.Join(c.AllowedHosts, ",") != "terok.lan,*.example.org" || c.TaskGateHost != "gate.internal" {
		t.Fatalf("%+v", c)
	}
	if c.Public == nil || c.Public.String() != "https://terok.example.org/terok" {
		t.Fatalf("public URL %v", c.Public)
	}
	if got := c.LoginURL("tok"); got != "https://terok.example.org/terok/?token=tok" {
		t.Fatalf("login URL %q", got)
	}
	// TEROK_VAULT_BIND as terok-vault reads it: a host takes port 9419.
	if c.VaultListen != "0.0.0.0:9419" || c.VaultPort() != 9419 || c.VaultSock() != filepath.Join(c.RunDir, "vault.sock") {
		t.Fatalf("vault: %q %d %q", c.VaultListen, c.VaultPort(), c.VaultSock())
	}
	// TEROK_VAULT_LISTEN (make run-native) wins over TEROK_VAULT_BIND.
	env[EnvVaultListen] = "127.0.0.1:19419"
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil || c.VaultPort() != 19419 {
		t.Fatalf("TEROK_VAULT_LISTEN: %d %v", c.VaultPort(), err)
	}
	if got := c.GateHostURL(); got != "http://127.0.0.1:19418" {
		t.Fatalf("gate URL %q", got)
	}
	if err := c.LoadFile("testdata/typo.json"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestValidateNamesTheFix: each bad value is refused naming its
// variable and what to give instead.
func TestValidateNamesTheFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want []string
	}{
		{"listen", func(c *Config) { c.Listen = "8566" }, []string{EnvListen, "host:port", "or off"}},
		{"gate", func(c *Config) { c.GateListen = "gate" }, []string{EnvGateListen, "127.0.0.1:9418"}},
		{"short token", func(c *Config) { c.Token = "short" }, []string{EnvToken, "fewer than 16", "unset it"}},
		{"token with a slash", func(c *Config) { c.Token = "abcdefgh/ijklmnopq" }, []string{EnvToken, "may only hold"}},
		{"public url", func(c *Config) { c.PublicURL = "terok.example.org" }, []string{EnvPublicURL, "https://"}},
		{"public url with a user", func(c *Config) { c.PublicURL = "https://u:p@terok.example.org" }, []string{EnvPublicURL, "without credentials"}},
		{"public host", func(c *Config) { c.PublicHost = "http://x" }, []string{EnvPublicHost, "host name"}},
		{"allowed hosts", func(c *Config) { c.AllowedHosts = []string{"x.org:80"} }, []string{EnvAllowedHosts, "host names only"}},
		{"sessions", func(c *Config) { c.SessionIdle = Duration(48 * time.Hour); c.SessionMax = Duration(time.Hour) }, []string{EnvSessionIdle, "idle at most max"}},
		{"entry", func(c *Config) { c.Entry = "/nonexistent/terok-entry" }, []string{"make build", "--entry"}},
		{"socket", func(c *Config) { c.Socket = "web.sock" }, []string{"absolute", "--socket"}},
		{"vault broker", func(c *Config) { c.VaultListen = "vault:port" }, []string{EnvVaultListen, EnvVaultBind, "127.0.0.1:9419"}},
		{"vault socket", func(c *Config) { c.VaultSocket = "vault.sock" }, []string{"vault_socket", "absolute"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base(t)
			tc.set(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
	for _, v := range []string{EnvSessionIdle, EnvSessionMax} {
		c := base(t)
		err := c.ApplyEnv(func(k string) string { return map[string]string{v: "soon"}[k] })
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), v) {
			t.Errorf("%s=soon: %v", v, err)
		}
	}
}

// TestListenOff: off (the flag's or the variable's) means no TCP
// listener, and no login URL.
func TestListenOff(t *testing.T) {
	c := base(t)
	if err := c.ApplyEnv(func(k string) string { return map[string]string{EnvListen: "off"}[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.Listen != "" || c.LoginURL("x") != "" {
		t.Fatalf("%q %q %v", c.Listen, c.LoginURL("x"), err)
	}
}
