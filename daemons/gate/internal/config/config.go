package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/tokens"
	"github.com/terok-ai/terok-in-docker/daemons/kit/confkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
)

// Environment variables read by the gate.
const (
	EnvBind         = "TEROK_GATE_BIND"
	EnvAdminToken   = "TEROK_GATE_ADMIN_TOKEN"
	EnvPollInterval = "TEROK_GATE_POLL_INTERVAL"
)

// DefaultPort is the gate's TCP port.
const DefaultPort = "9418"

// Config is the gate's configuration.
type Config struct {
	// Listen is the TCP address of git smart HTTP (host:port).
	Listen string `json:"listen"`
	// Socket is the admin API's unix socket.
	Socket string `json:"socket"`
	// Root is the state directory: repositories, tokens, admin token, hooks.
	Root string `json:"root"`
	// AdminToken fixes the admin token; empty: generated once and kept in
	// Root/admin-token.
	AdminToken string `json:"admin_token"`
	// PollInterval is how often repositories with an upstream are synced
	// (0 turns polling off unless a repository sets its own interval).
	PollInterval Duration `json:"poll_interval"`
	// MaxPushBytes bounds a push's body; MaxRequestBytes a fetch request.
	MaxPushBytes    int64 `json:"max_push_bytes"`
	MaxRequestBytes int64 `json:"max_request_bytes"`
	// BodyIdleTimeout ends a git request whose body stalls this long.
	BodyIdleTimeout Duration `json:"body_idle_timeout"`
	// Git is the git binary.
	Git string `json:"git"`
	// Listener are the git HTTP listener's limits (timeouts, header size,
	// connections per token, without a token, in all); each also from the
	// environment as TEROK_GATE_<KEY>, e.g. TEROK_GATE_MAX_CONNS_PER_CREDENTIAL.
	Listener listenlimit.Limits `json:"listener"`
}

// EnvListenerPrefix starts the environment variables of the listener
// limits: TEROK_GATE_ + the key upper-cased.
const EnvListenerPrefix = "TEROK_GATE_"

// Duration is a time.Duration written as "5m" in JSON.
type Duration = confkit.Duration

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:" + DefaultPort,
		Socket:          paths.Socket("", paths.Gate),
		Root:            filepath.Join(paths.StateDir(), "gate"),
		PollInterval:    Duration(5 * time.Minute),
		MaxPushBytes:    4 << 30,
		MaxRequestBytes: 64 << 20,
		BodyIdleTimeout: Duration(2 * time.Minute),
		Git:             "git",
		Listener:        listenlimit.Default(),
	}
}

// LoadFile overlays the JSON file at path (unknown keys are errors).
func (c *Config) LoadFile(path string) error {
	if err := confkit.LoadJSON(path, c); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// ApplyEnv overlays the environment read through getenv.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if b := strings.TrimSpace(getenv(EnvBind)); b != "" {
		c.Listen = BindToListen(b)
	}
	if t := getenv(EnvAdminToken); t != "" {
		c.AdminToken = strings.TrimSpace(t)
	}
	if p := getenv(EnvPollInterval); p != "" {
		d, err := time.ParseDuration(p)
		if err != nil {
			if n, nerr := strconv.Atoi(p); nerr == nil {
				d, err = time.Duration(n)*time.Second, nil
			}
		}
		if err != nil {
			return fmt.Errorf("%w: %s=%q: use a duration like 5m (0 turns polling off)", ErrInvalid, EnvPollInterval, p)
		}
		c.PollInterval = Duration(d)
	}
	if err := c.Listener.ApplyEnv(EnvListenerPrefix, getenv); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// BindToListen turns a bind address (host, or host:port) into host:port
// with the default port.
func BindToListen(b string) string { return confkit.BindToListen(b, DefaultPort) }

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("%w: listen address %q: %v; use host:port like 127.0.0.1:9418", ErrInvalid, c.Listen, err)
	}
	if c.Socket == "" {
		return fmt.Errorf("%w: no socket path", ErrInvalid)
	}
	if c.Root == "" {
		return fmt.Errorf("%w: no state root", ErrInvalid)
	}
	if c.AdminToken != "" {
		if err := tokens.ValidAdminToken(c.AdminToken); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if c.PollInterval < 0 {
		return fmt.Errorf("%w: poll interval is negative", ErrInvalid)
	}
	if c.BodyIdleTimeout <= 0 {
		return fmt.Errorf("%w: body idle timeout must be positive", ErrInvalid)
	}
	if c.MaxPushBytes <= 0 || c.MaxRequestBytes <= 0 {
		return fmt.Errorf("%w: body limits must be positive", ErrInvalid)
	}
	if err := c.Listener.Validate(); err != nil {
		return fmt.Errorf("%w: listener: %v", ErrInvalid, err)
	}
	return nil
}
