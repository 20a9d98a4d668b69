package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/trust"
)

// Config is the daemon's settings.
type Config struct {
	Socket      string `json:"-"`
	SocketMode  string `json:"socket_mode"`  // octal, default 0660
	SocketGroup string `json:"socket_group"` // group name or gid owning the socket ("" keeps root's)
	StateDir    string `json:"-"`            // <state>/system/shield holds containers/ and audit/
	ConfigDir   string `json:"-"`            // <config>/system/shield holds profiles/ and config.json
	// Endpoints always let through, as [tcp:|udp:]ADDR:PORT: the gate and the
	// web UI's task endpoint (169.254.1.2:9418 in the image).
	Endpoints []string `json:"endpoints"`
	// ContainerDNS are the resolver addresses task containers use (port 53,
	// UDP and TCP): slirp4netns' 10.0.2.3, pasta's 169.254.1.1.
	ContainerDNS []string `json:"container_dns"`
	// Resolver is the HOST:PORT the daemon resolves allowlisted domains at
	// ("" = first nameserver of /etc/resolv.conf).
	Resolver        string `json:"resolver"`
	LogGroup        uint16 `json:"log_group"`        // NFLOG group inside each task namespace
	LenientProfiles bool   `json:"lenient_profiles"` // skip bad profile lines instead of refusing
	GraceSeconds    int    `json:"grace_seconds"`    // keep addresses of a name that stops resolving this long past its TTL
	MinTTLSeconds   int    `json:"min_ttl_seconds"`  // re-resolve no more often than this (short DNS TTLs are raised to it)
	// TaskResolver serves DNS inside each task's namespace on
	// shieldapi.ResolverAddr, answering only allowed names, and refuses
	// port 53 and 853 everywhere else (ContainerDNS included). Off: the
	// task may query ContainerDNS for any name (the old, leaky way).
	TaskResolver bool `json:"task_resolver"`
	// Receipts records each new allowed connection and each answered
	// lookup in the audit (rate-limited), besides what was refused.
	Receipts bool `json:"receipts"`
	// HostSide are the CIDRs where a task reaches the host's own
	// listeners (slirp4netns' 10.0.2.0/24 and fd00::/64, where 10.0.2.2 is
	// the host's loopback; pasta's 169.254.1.2; link-local). A task without
	// the shield (mode open) reaches everything but these, Endpoints and
	// ContainerDNS excepted.
	HostSide []string `json:"host_side"`
	// ResolverRate and ResolverBurst bound the queries a second one task's
	// resolver takes; ResolverWorkers bounds how many it handles at once
	// (UDP; and as many TCP connections). Queries beyond them wait in the
	// socket's small buffer and are dropped when it is full, counted in the
	// task's audit.
	ResolverRate    int `json:"resolver_rate"`
	ResolverBurst   int `json:"resolver_burst"`
	ResolverWorkers int `json:"resolver_workers"`
	// DenyNames is the deny list of every task, besides each task's own
	// (annotation terok.shield.deny): names, wildcards (*.example.com),
	// addresses and CIDRs no task may reach, whatever allows them. Only
	// this file sets it (root's), not the environment or a flag.
	DenyNames []string `json:"deny_names"`
}

// Default returns the built-in settings.
func Default() Config {
	return Config{
		SocketMode:      "0660",
		Endpoints:       []string{"tcp:169.254.1.2:9418"},
		ContainerDNS:    []string{"10.0.2.3", "169.254.1.1"},
		LogGroup:        7318,
		GraceSeconds:    300,
		MinTTLSeconds:   30,
		TaskResolver:    true,
		Receipts:        true,
		HostSide:        []string{"10.0.2.0/24", "169.254.0.0/16", "fd00::/64", "fe80::/10"},
		ResolverRate:    500,
		ResolverBurst:   250,
		ResolverWorkers: 16,
	}
}

// LoadFile overlays path (JSON) when it exists. As root, the file, its
// directory and that directory's parent must be root's and writable by
// root alone (trust), and the file is not read through a symbolic link.
func (c *Config) LoadFile(path string) error {
	if err := trust.CheckTree(filepath.Dir(path)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("config directory: %w", err)
	}
	b, err := trust.ReadFile(path, 1<<20)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%s: %v: %w", path, err, ErrInvalid)
	}
	return nil
}

// LoadEnv overlays TEROK_SHIELD_ENDPOINTS, _CONTAINER_DNS (comma lists),
// _RESOLVER, _SOCKET_GROUP, _SOCKET_MODE.
func (c *Config) LoadEnv() {
	if v, ok := os.LookupEnv("TEROK_SHIELD_ENDPOINTS"); ok {
		c.Endpoints = SplitList(v)
	}
	if v, ok := os.LookupEnv("TEROK_SHIELD_CONTAINER_DNS"); ok {
		c.ContainerDNS = SplitList(v)
	}
	if v, ok := os.LookupEnv("TEROK_SHIELD_RESOLVER"); ok {
		c.Resolver = v
	}
	if v, ok := os.LookupEnv("TEROK_SHIELD_SOCKET_GROUP"); ok {
		c.SocketGroup = v
	}
	if v, ok := os.LookupEnv("TEROK_SHIELD_SOCKET_MODE"); ok {
		c.SocketMode = v
	}
}

// SplitList splits a comma list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Mode parses SocketMode.
func (c Config) Mode() (os.FileMode, error) {
	m, err := strconv.ParseUint(c.SocketMode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("socket mode %q: want an octal mode like 0660: %w", c.SocketMode, ErrInvalid)
	}
	return os.FileMode(m), nil
}

// GID resolves SocketGroup (-1 when unset).
func (c Config) GID() (int, error) {
	if c.SocketGroup == "" {
		return -1, nil
	}
	if n, err := strconv.Atoi(c.SocketGroup); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(c.SocketGroup)
	if err != nil {
		return 0, fmt.Errorf("socket group %q: %v: %w", c.SocketGroup, err, ErrInvalid)
	}
	return strconv.Atoi(g.Gid)
}

// ParseEndpoints parses Endpoints, and ContainerDNS unless the task
// resolver replaces it, into rule endpoints.
func (c Config) ParseEndpoints() ([]ruleset.Endpoint, error) {
	var out []ruleset.Endpoint
	for _, e := range c.Endpoints {
		proto, rest := "tcp", e
		if p, r, ok := strings.Cut(e, ":"); ok && (p == "tcp" || p == "udp") {
			proto, rest = p, r
		}
		ap, err := netip.ParseAddrPort(rest)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("endpoint %q: want [tcp:|udp:]ADDR:PORT, e.g. tcp:169.254.1.2:9418: %w", e, ErrInvalid)
		}
		out = append(out, ruleset.Endpoint{Addr: ap.Addr().Unmap(), Proto: proto, Port: ap.Port()})
	}
	if c.TaskResolver {
		// Still checked: a task without the shield resolves there.
		_, err := c.ParseContainerDNS()
		return out, err
	}
	dns, err := c.ParseContainerDNS()
	if err != nil {
		return nil, err
	}
	out = append(out, dns...)
	return out, nil
}

// ParseContainerDNS is the container network's resolvers as endpoints
// (UDP and TCP port 53): a task without the shield resolves through them.
func (c Config) ParseContainerDNS() ([]ruleset.Endpoint, error) {
	var out []ruleset.Endpoint
	for _, d := range c.ContainerDNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fmt.Errorf("container DNS %q: want an IP address: %w", d, ErrInvalid)
		}
		a = a.Unmap()
		out = append(out, ruleset.Endpoint{Addr: a, Proto: "udp", Port: 53}, ruleset.Endpoint{Addr: a, Proto: "tcp", Port: 53})
	}
	return out, nil
}

// ParseDenyNames parses DenyNames into targets, in canonical form
// without repeats.
func (c Config) ParseDenyNames() ([]target.Target, error) {
	var out []target.Target
	seen := map[string]bool{}
	for _, d := range c.DenyNames {
		t, err := target.Parse(d)
		if err != nil {
			return nil, fmt.Errorf("deny_names: %v: want host names, *.domains, IP addresses or CIDRs: %w", err, ErrInvalid)
		}
		if !seen[t.String()] {
			seen[t.String()] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// ParseHostSide parses HostSide.
func (c Config) ParseHostSide() ([]iprange.Range, error) {
	var out []iprange.Range
	for _, h := range c.HostSide {
		p, err := netip.ParsePrefix(h)
		if err != nil {
			return nil, fmt.Errorf("host_side %q: want a CIDR like 10.0.2.0/24: %w", h, ErrInvalid)
		}
		out = append(out, iprange.FromPrefix(p.Masked(), time.Time{}))
	}
	return iprange.Merge(out), nil
}

// Validate checks every field.
func (c Config) Validate() error {
	if c.Socket == "" || c.StateDir == "" || c.ConfigDir == "" {
		return fmt.Errorf("socket, state and config directories must be set: %w", ErrInvalid)
	}
	if _, err := c.Mode(); err != nil {
		return err
	}
	if _, err := c.GID(); err != nil {
		return err
	}
	if _, err := c.ParseEndpoints(); err != nil {
		return err
	}
	if c.Resolver != "" {
		if _, err := netip.ParseAddrPort(c.Resolver); err != nil {
			return fmt.Errorf("resolver %q: want IP:PORT: %w", c.Resolver, ErrInvalid)
		}
	}
	if c.MinTTLSeconds < 1 {
		return fmt.Errorf("min_ttl_seconds %d: must be at least 1: %w", c.MinTTLSeconds, ErrInvalid)
	}
	if c.GraceSeconds < 0 {
		return fmt.Errorf("grace_seconds %d: must not be negative: %w", c.GraceSeconds, ErrInvalid)
	}
	if _, err := c.ParseHostSide(); err != nil {
		return err
	}
	if _, err := c.ParseDenyNames(); err != nil {
		return err
	}
	for _, x := range []struct {
		name string
		v    int
	}{{"resolver_rate", c.ResolverRate}, {"resolver_burst", c.ResolverBurst}, {"resolver_workers", c.ResolverWorkers}} {
		if x.v < 1 || x.v > 100000 {
			return fmt.Errorf("%s %d: must be 1 to 100000: %w", x.name, x.v, ErrInvalid)
		}
	}
	return nil
}

// ProfileDir is where user profiles live.
func (c Config) ProfileDir() string { return filepath.Join(c.ConfigDir, "profiles") }
