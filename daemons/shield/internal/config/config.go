package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/confkit"
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
	if err := confkit.DecodeJSON(b, c); err != nil {
		return fmt.Errorf("%s: %v: %w", path, err, ErrInvalid)
	}
	return nil
}

// The environment variables ApplyEnv reads.
const (
	EnvEndpoints    = "TEROK_SHIELD_ENDPOINTS"     // comma list, as --endpoint
	EnvContainerDNS = "TEROK_SHIELD_CONTAINER_DNS" // comma list, as --container-dns
	EnvResolver     = "TEROK_SHIELD_RESOLVER"      // as --resolver
	EnvSocketGroup  = "TEROK_SHIELD_SOCKET_GROUP"  // as --socket-group
	EnvSocketMode   = "TEROK_SHIELD_SOCKET_MODE"   // as --socket-mode
)

// ApplyEnv overlays the TEROK_SHIELD_* variables read through getenv (an
// empty one is unset). A value that cannot work is an error naming the
// variable and what it wants.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	bad := func(name, v string, err error) error {
		return fmt.Errorf("%s=%q: %v: %w", name, v, err, ErrInvalid)
	}
	if v := strings.TrimSpace(getenv(EnvEndpoints)); v != "" {
		for _, e := range SplitList(v) {
			if _, err := parseEndpoint(e); err != nil {
				return bad(EnvEndpoints, v, err)
			}
		}
		c.Endpoints = SplitList(v)
	}
	if v := strings.TrimSpace(getenv(EnvContainerDNS)); v != "" {
		for _, d := range SplitList(v) {
			if _, err := parseDNS(d); err != nil {
				return bad(EnvContainerDNS, v, err)
			}
		}
		c.ContainerDNS = SplitList(v)
	}
	if v := strings.TrimSpace(getenv(EnvResolver)); v != "" {
		if err := checkResolver(v); err != nil {
			return bad(EnvResolver, v, err)
		}
		c.Resolver = v
	}
	if v := strings.TrimSpace(getenv(EnvSocketGroup)); v != "" {
		if _, err := lookupGID(v); err != nil {
			return bad(EnvSocketGroup, v, err)
		}
		c.SocketGroup = v
	}
	if v := strings.TrimSpace(getenv(EnvSocketMode)); v != "" {
		if _, err := parseMode(v); err != nil {
			return bad(EnvSocketMode, v, err)
		}
		c.SocketMode = v
	}
	return nil
}

// setting names a setting the way a user sets it: its key in
// config.json, and its flag and variable where it has them.
func setting(key string) string {
	switch key {
	case "socket_mode":
		return "socket_mode (--socket-mode, " + EnvSocketMode + ")"
	case "socket_group":
		return "socket_group (--socket-group, " + EnvSocketGroup + ")"
	case "endpoints":
		return "endpoints (--endpoint, " + EnvEndpoints + ")"
	case "container_dns":
		return "container_dns (--container-dns, " + EnvContainerDNS + ")"
	case "resolver":
		return "resolver (--resolver, " + EnvResolver + ")"
	case "host_side":
		return "host_side (--host-side)"
	}
	return key + " (config.json)"
}

// invalid is a setting's error: the setting, the value, what it wants.
func invalid(key string, v any, err error) error {
	return fmt.Errorf("%s %q: %v: %w", setting(key), fmt.Sprint(v), err, ErrInvalid)
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
	m, err := parseMode(c.SocketMode)
	if err != nil {
		return 0, invalid("socket_mode", c.SocketMode, err)
	}
	return m, nil
}

func parseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, errors.New("want an octal mode like 0660")
	}
	return os.FileMode(m), nil
}

// GID resolves SocketGroup (-1 when unset).
func (c Config) GID() (int, error) {
	if c.SocketGroup == "" {
		return -1, nil
	}
	gid, err := lookupGID(c.SocketGroup)
	if err != nil {
		return 0, invalid("socket_group", c.SocketGroup, err)
	}
	return gid, nil
}

func lookupGID(group string) (int, error) {
	if n, err := strconv.Atoi(group); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("%v; give a group of this system (name or number), e.g. podman", err)
	}
	return strconv.Atoi(g.Gid)
}

// ParseEndpoints parses Endpoints, and ContainerDNS unless the task
// resolver replaces it, into rule endpoints.
func (c Config) ParseEndpoints() ([]ruleset.Endpoint, error) {
	var out []ruleset.Endpoint
	for _, e := range c.Endpoints {
		ep, err := parseEndpoint(e)
		if err != nil {
			return nil, invalid("endpoints", e, err)
		}
		out = append(out, ep)
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

func parseEndpoint(e string) (ruleset.Endpoint, error) {
	proto, rest := "tcp", e
	if p, r, ok := strings.Cut(e, ":"); ok && (p == "tcp" || p == "udp") {
		proto, rest = p, r
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil || ap.Port() == 0 {
		return ruleset.Endpoint{}, errors.New("want [tcp:|udp:]ADDR:PORT, e.g. tcp:169.254.1.2:9418")
	}
	return ruleset.Endpoint{Addr: ap.Addr().Unmap(), Proto: proto, Port: ap.Port()}, nil
}

// ParseContainerDNS is the container network's resolvers as endpoints
// (UDP and TCP port 53): a task without the shield resolves through them.
func (c Config) ParseContainerDNS() ([]ruleset.Endpoint, error) {
	var out []ruleset.Endpoint
	for _, d := range c.ContainerDNS {
		a, err := parseDNS(d)
		if err != nil {
			return nil, invalid("container_dns", d, err)
		}
		out = append(out, ruleset.Endpoint{Addr: a, Proto: "udp", Port: 53}, ruleset.Endpoint{Addr: a, Proto: "tcp", Port: 53})
	}
	return out, nil
}

func parseDNS(d string) (netip.Addr, error) {
	a, err := netip.ParseAddr(d)
	if err != nil {
		return netip.Addr{}, errors.New("want an IP address, e.g. 169.254.1.1")
	}
	return a.Unmap(), nil
}

func checkResolver(r string) error {
	if _, err := netip.ParseAddrPort(r); err != nil {
		return errors.New("want IP:PORT, e.g. 192.0.2.53:53")
	}
	return nil
}

// ParseDenyNames parses DenyNames into targets, in canonical form
// without repeats.
func (c Config) ParseDenyNames() ([]target.Target, error) {
	var out []target.Target
	seen := map[string]bool{}
	for _, d := range c.DenyNames {
		t, err := target.Parse(d)
		if err != nil {
			return nil, invalid("deny_names", d, fmt.Errorf("%v; want host names, *.domains, IP addresses or CIDRs", err))
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
			return nil, invalid("host_side", h, errors.New("want a CIDR like 10.0.2.0/24"))
		}
		out = append(out, iprange.FromPrefix(p.Masked(), time.Time{}))
	}
	return iprange.Merge(out), nil
}

// Validate checks every field; an error names the setting (its key in
// config.json, its flag and variable) and what it wants.
func (c Config) Validate() error {
	for _, x := range []struct{ v, name string }{{c.Socket, "the socket (--socket)"},
		{c.StateDir, "the state directory (--state)"}, {c.ConfigDir, "the config directory (--config)"}} {
		if x.v == "" {
			return fmt.Errorf("%s is not set: give a path: %w", x.name, ErrInvalid)
		}
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
		if err := checkResolver(c.Resolver); err != nil {
			return invalid("resolver", c.Resolver, err)
		}
	}
	if c.MinTTLSeconds < 1 {
		return invalid("min_ttl_seconds", c.MinTTLSeconds, errors.New("must be at least 1"))
	}
	if c.GraceSeconds < 0 {
		return invalid("grace_seconds", c.GraceSeconds, errors.New("must not be negative; 0 drops a name's addresses at its TTL"))
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
			return invalid(x.name, x.v, errors.New("must be 1 to 100000"))
		}
	}
	return nil
}

// ProfileDir is where user profiles live.
func (c Config) ProfileDir() string { return filepath.Join(c.ConfigDir, "profiles") }
