package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
)

// TestListenerLimits: the listeners' limits start from their defaults,
// the file overlays the keys it names, the environment (TEROK_WEB_ and
// TEROK_WEB_TASK_UI_ + the key) overlays the file, and Validate refuses
// a limit that cannot work naming the group and the variable.
func TestListenerLimits(t *testing.T) {
	c := base(t)
	if c.Listener.MaxConnsPerCredential != 32 || c.Listener.MaxUncredentialedConns != 64 || c.Listener.MaxCredentialedConns != 256 {
		t.Fatalf("listener defaults %+v", c.Listener)
	}
	if c.TaskUI.MaxConnsPerCredential != 16 || c.TaskUI.MaxUncredentialedConns != 16 || c.TaskUI.MaxCredentialedConns != 16 {
		t.Fatalf("task UI defaults %+v", c.TaskUI)
	}
	if err := c.LoadFile("testdata/limits.json"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TEROK_WEB_MAX_CREDENTIALED_CONNS":           "100",
		"TEROK_WEB_TASK_UI_MAX_CONNS_PER_CREDENTIAL": "4",
		"TEROK_WEB_TASK_UI_READ_HEADER_TIMEOUT":      "2s",
	}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listener.MaxConnsPerCredential != 8 || c.Listener.UncredentialedTimeout != 3*time.Second || c.Listener.MaxCredentialedConns != 100 ||
		c.Listener.IdleTimeout != listenlimit.Default().IdleTimeout {
		t.Fatalf("listener %+v", c.Listener)
	}
	if c.TaskUI.MaxUncredentialedConns != 4 || c.TaskUI.MaxConnsPerCredential != 4 || c.TaskUI.ReadHeaderTimeout != 2*time.Second ||
		c.TaskUI.MaxCredentialedConns != 16 {
		t.Fatalf("task UI %+v", c.TaskUI)
	}

	typo := base(t)
	if err := typo.LoadFile("testdata/limits-typo.json"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "max_conns_per_credentials") {
		t.Fatalf("unknown limit: %v", err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"not a number":   {map[string]string{"TEROK_WEB_MAX_UNCREDENTIALED_CONNS": "many"}, []string{"TEROK_WEB_MAX_UNCREDENTIALED_CONNS", "whole number"}},
		"not a duration": {map[string]string{"TEROK_WEB_TASK_UI_IDLE_TIMEOUT": "soon"}, []string{"TEROK_WEB_TASK_UI_IDLE_TIMEOUT", "duration"}},
	} {
		c := base(t)
		err := c.ApplyEnv(func(k string) string { return tc.env[k] })
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: %v", name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", name, err, w)
			}
		}
	}
	for name, tc := range map[string]struct {
		set  func(*Config)
		want []string
	}{
		"zero":            {func(c *Config) { c.Listener.MaxUncredentialedConns = 0 }, []string{"listener:", "max_uncredentialed_conns must be positive", "TEROK_WEB_"}},
		"per above total": {func(c *Config) { c.TaskUI.MaxConnsPerCredential = 17 }, []string{"task_ui_listener:", "above max_credentialed_conns", "TEROK_WEB_TASK_UI_"}},
	} {
		c := base(t)
		tc.set(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: %v", name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", name, err, w)
			}
		}
	}
}
