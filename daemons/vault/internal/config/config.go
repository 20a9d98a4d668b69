package config

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/confkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
)

// Environment variables read by the vault.
const (
	// EnvBind is the broker's address: a host (port 9419) or host:port.
	EnvBind = "TEROK_VAULT_BIND"
	// EnvKeyFile names a key file the operator provides (a Docker secret).
	EnvKeyFile = "TEROK_VAULT_KEY_FILE"
	// EnvUser is the user the vault drops to when started as root.
	EnvUser = "TEROK_VAULT_USER"
	// EnvSocketGroup is the group given vault.sock (terok-web's).
	EnvSocketGroup = "TEROK_VAULT_SOCKET_GROUP"
	// EnvSecretWriters is who may set and remove secrets on vault.sock.
	EnvSecretWriters = "TEROK_VAULT_SECRET_WRITERS"
	// EnvTestCAFile adds a CA for upstream TLS. For tests only.
	EnvTestCAFile = "TEROK_VAULT_TEST_CA_FILE"
)

// EnvListenerPrefix starts the variables of the broker listener's limits:
// TEROK_VAULT_ + the key upper-cased (listenlimit.Keys), e.g.
// TEROK_VAULT_MAX_CONNS_PER_CREDENTIAL.
const EnvListenerPrefix = "TEROK_VAULT_"

// DefaultPort is the broker's TCP port (the gate's is 9418).
const DefaultPort = "9419"

// Who may set and remove secrets over vault.sock.
const (
	// WritersSocket: every caller that can open the socket (root, the
	// vault's user, the socket's group: terok-web passing on what a user
	// typed into the UI).
	WritersSocket = "socket"
	// WritersRoot: only root and the vault's own user; the socket's group
	// may still mint, revoke, list and read audits.
	WritersRoot = "root"
)

// Config is the vault's configuration.
type Config struct {
	// Listen is the broker's TCP address (host:port).
	Listen string `json:"listen"`
	// Socket is the admin API's unix socket.
	Socket string `json:"socket"`
	// SocketMode is the socket file's mode (octal in JSON strings, e.g.
	// "0660").
	SocketMode Mode `json:"socket_mode"`
	// SocketGroup, when set, owns the socket (the group terok-web runs in).
	SocketGroup string `json:"socket_group"`
	// SecretWriters is WritersSocket or WritersRoot.
	SecretWriters string `json:"secret_writers"`
	// ConfigDir holds the generated key and root's providers/
	// (<config>/system/vault).
	ConfigDir string `json:"config_dir"`
	// StateDir holds the encrypted store, phantoms and audit
	// (<state>/system/vault).
	StateDir string `json:"state_dir"`
	// KeyFile is a key the operator provides; empty: the vault keeps its
	// own in ConfigDir/vault.key.
	KeyFile string `json:"key_file"`
	// User is who the vault runs as after it started as root (it prepares
	// its directories, reads the key file and opens its listeners first).
	User string `json:"user"`
	// TestCAFile adds a CA certificate (PEM) trusted for upstreams besides
	// the system's. Only tests use it: a fake provider on loopback.
	TestCAFile string `json:"test_ca_file"`
	// Keep is how long revoked phantoms and idle audit files are kept.
	Keep Duration `json:"keep"`
	// AuditMaxBytes bounds one task's audit file.
	AuditMaxBytes int64 `json:"audit_max_bytes"`
	// RefreshBefore is how long before expiry an OAuth access token is
	// refreshed.
	RefreshBefore Duration `json:"refresh_before"`
	// Listener are the broker listener's limits (kit/listenlimit):
	// timeouts, header size, connections per phantom, in total and
	// without one (DefaultListener).
	Listener listenlimit.Limits `json:"listener"`
	// Limits are the broker's request and upstream settings.
	Limits Limits `json:"limits"`
}

// DefaultListener are the broker listener's limits: kit/listenlimit's
// defaults (their reasons are in its Default) but for IdleTimeout two
// minutes, as an agent's model calls come minutes apart and a kept
// connection saves a handshake, and MaxCredentialedConns 512, as every
// task's agent streams its answers through the broker at once (16 per
// phantom: an agent's parallel calls, its subagents included).
func DefaultListener() listenlimit.Limits {
	l := listenlimit.Default()
	l.IdleTimeout = 2 * time.Minute
	l.MaxCredentialedConns = 512
	return l
}

// Limits are the broker's request and upstream settings, in one place.
type Limits struct {
	// MaxRequestBytes bounds a request's body.
	MaxRequestBytes int64 `json:"max_request_bytes"`
	// UpstreamHeaderTimeout bounds the wait for an upstream's answer
	// headers (a model may think long before its first byte).
	UpstreamHeaderTimeout Duration `json:"upstream_header_timeout"`
	// DialTimeout and TLSHandshakeTimeout bound reaching an upstream.
	DialTimeout         Duration `json:"dial_timeout"`
	TLSHandshakeTimeout Duration `json:"tls_handshake_timeout"`
}

// Duration is a time.Duration written as "5m" in JSON.
type Duration = confkit.Duration

// Mode is a file mode written as an octal string ("0660") in JSON.
type Mode os.FileMode

// UnmarshalJSON implements json.Unmarshaler.
func (m *Mode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a mode is an octal string like \"0660\": %w", err)
	}
	v, err := ParseMode(s)
	*m = v
	return err
}

// MarshalJSON implements json.Marshaler.
func (m Mode) MarshalJSON() ([]byte, error) { return json.Marshal(fmt.Sprintf("%04o", uint32(m))) }

// ParseMode reads an octal mode such as 0660.
func ParseMode(s string) (Mode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("%w: mode %q: write it in octal, like 0660", ErrInvalid, s)
	}
	return Mode(v), nil
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Listen:        "127.0.0.1:" + DefaultPort,
		Socket:        paths.Socket("", paths.Vault),
		SocketMode:    0o660,
		SecretWriters: WritersSocket,
		ConfigDir:     filepath.Join(paths.ConfigDir(), "system", "vault"),
		StateDir:      filepath.Join(paths.StateDir(), "system", "vault"),
		Keep:          Duration(30 * 24 * time.Hour),
		AuditMaxBytes: 16 << 20,
		RefreshBefore: Duration(5 * time.Minute),
		Listener:      DefaultListener(),
		Limits: Limits{
			MaxRequestBytes:       32 << 20,
			UpstreamHeaderTimeout: Duration(10 * time.Minute),
			DialTimeout:           Duration(15 * time.Second),
			TLSHandshakeTimeout:   Duration(15 * time.Second),
		},
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
	for env, dst := range map[string]*string{EnvKeyFile: &c.KeyFile, EnvUser: &c.User,
		EnvSocketGroup: &c.SocketGroup, EnvSecretWriters: &c.SecretWriters, EnvTestCAFile: &c.TestCAFile} {
		if v := strings.TrimSpace(getenv(env)); v != "" {
			*dst = v
		}
	}
	if err := c.Listener.ApplyEnv(EnvListenerPrefix, getenv); err != nil {
		return fmt.Errorf("%w: %v (the broker listener's limits)", ErrInvalid, err)
	}
	return nil
}

// BindToListen turns a bind address (host, or host:port) into host:port
// with the default port.
func BindToListen(b string) string { return confkit.BindToListen(b, DefaultPort) }

// Validate reports the first setting that cannot work, naming it and the
// fix; relative directories become absolute.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("%w: broker address %q: %v; use host:port like 127.0.0.1:9419 (--listen, %s)", ErrInvalid, c.Listen, err, EnvBind)
	}
	if c.Socket == "" {
		return fmt.Errorf("%w: no socket path (--socket)", ErrInvalid)
	}
	if c.SocketMode&0o007 != 0 || c.SocketMode > 0o770 {
		return fmt.Errorf("%w: socket mode %04o lets every local user in; use 0660 with a socket group (--socket-mode, --socket-group)", ErrInvalid, uint32(c.SocketMode))
	}
	if c.SecretWriters != WritersSocket && c.SecretWriters != WritersRoot {
		return fmt.Errorf("%w: secret writers %q: use %q or %q (%s)", ErrInvalid, c.SecretWriters, WritersSocket, WritersRoot, EnvSecretWriters)
	}
	for name, d := range map[string]*string{"config dir": &c.ConfigDir, "state dir": &c.StateDir} {
		if *d == "" {
			return fmt.Errorf("%w: no %s", ErrInvalid, name)
		}
		abs, err := filepath.Abs(*d)
		if err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrInvalid, name, *d, err)
		}
		*d = abs
	}
	if c.KeyFile != "" && !filepath.IsAbs(c.KeyFile) {
		return fmt.Errorf("%w: key file %q must be an absolute path (%s)", ErrInvalid, c.KeyFile, EnvKeyFile)
	}
	l := c.Limits
	if err := c.Listener.Validate(); err != nil {
		return fmt.Errorf("%w: listener: %v (%s + the key upper-cased, e.g. %sMAX_CONNS_PER_CREDENTIAL)", ErrInvalid, err, EnvListenerPrefix, EnvListenerPrefix)
	}
	for name, d := range map[string]Duration{"upstream_header_timeout": l.UpstreamHeaderTimeout, "dial_timeout": l.DialTimeout, "tls_handshake_timeout": l.TLSHandshakeTimeout,
		"keep": c.Keep, "refresh_before": c.RefreshBefore} {
		if d <= 0 {
			return fmt.Errorf("%w: %s must be positive", ErrInvalid, name)
		}
	}
	if l.MaxRequestBytes <= 0 || c.AuditMaxBytes <= 0 {
		return fmt.Errorf("%w: max_request_bytes and audit_max_bytes must be positive", ErrInvalid)
	}
	return nil
}

// KeyPath is where the key comes from: KeyFile, else the vault's own.
func (c *Config) KeyPath() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return filepath.Join(c.ConfigDir, "vault.key")
}

// ProvidersDir is root's providers directory.
func (c *Config) ProvidersDir() string { return filepath.Join(c.ConfigDir, "providers") }
