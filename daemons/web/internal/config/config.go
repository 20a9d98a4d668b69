package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/accesstoken"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
)

// ErrInvalid marks a configuration value that cannot work.
var ErrInvalid = errors.New("invalid terok-web configuration")

// Environment variables read by ApplyEnv.
const (
	EnvListen       = "TEROK_WEB_LISTEN"
	EnvToken        = "TEROK_WEB_TOKEN"
	EnvGateListen   = "TEROK_GATE_LISTEN"
	EnvGatePort     = "TEROK_GATE_PORT"
	EnvTaskGateHost = "TEROK_TASK_GATE_HOST"
	EnvPublicURL    = "TEROK_PUBLIC_URL"
	EnvPublicHost   = "TEROK_PUBLIC_HOST"
	EnvAllowedHosts = "TEROK_WEB_ALLOWED_HOSTS"
	EnvSessionIdle  = "TEROK_WEB_SESSION_IDLE"
	EnvSessionMax   = "TEROK_WEB_SESSION_MAX"
	// EnvInImage and EnvContainerID are set by the image's entrypoint:
	// "1", and the container's short id ("" when it could not tell).
	EnvInImage     = "TEROK_IN_IMAGE"
	EnvContainerID = "TEROK_CONTAINER_ID"
	// EnvVaultBind and EnvVaultListen name the vault broker's address.
	EnvVaultBind   = "TEROK_VAULT_BIND"
	EnvVaultListen = "TEROK_VAULT_LISTEN"
	EnvHostCA      = "TEROK_HOST_CA"
)

// Prefixes of the listener limits' variables: EnvListenerPrefix +
// MAX_CONNS_PER_CREDENTIAL for the TCP listener, EnvTaskUIListenerPrefix
// + MAX_CONNS_PER_CREDENTIAL for every web task's UI listener (the keys
// are listenlimit.Keys, upper-cased).
const (
	EnvListenerPrefix       = "TEROK_WEB_"
	EnvTaskUIListenerPrefix = "TEROK_WEB_TASK_UI_"
)

// DefaultVaultPort is the vault's credential broker's port when
// TEROK_VAULT_BIND names a host only (as terok-vault reads it).
const DefaultVaultPort = "9419"

// Off turns the TCP listener off (Listen).
const Off = "off"

// Config is terok-web's configuration.
type Config struct {
	// Socket is web.sock.
	Socket string `json:"socket"`
	// Listen is the TCP host:port of the API and UI; Off (or "" after
	// Validate) for none.
	Listen string `json:"listen"`
	// Token fixes the access token; empty: kept in the state dir.
	Token string `json:"token"`
	// StateDir holds tasks and terok-web's own state; ConfigDir the
	// projects; RunDir the other daemons' sockets.
	StateDir  string `json:"state_dir"`
	ConfigDir string `json:"config_dir"`
	RunDir    string `json:"run_dir"`
	// GateListen is the gate's git HTTP host:port.
	GateListen string `json:"gate_listen"`
	// TaskGateHost overrides the gate's host as tasks see it (the vault's
	// broker is reached at the same host).
	TaskGateHost string `json:"task_gate_host"`
	// VaultListen is the vault's credential broker's host:port (tasks
	// reach its port on the gate's host).
	VaultListen string `json:"vault_listen"`
	// VaultSocket is vault.sock; empty: in RunDir (VaultSock).
	VaultSocket string `json:"vault_socket"`
	// Entry is the terok-entry binary mounted into tasks.
	Entry string `json:"entry"`
	// PublicURL is the browser-facing base URL (behind a reverse proxy);
	// Validate parses it into Public.
	PublicURL string `json:"public_url"`
	// PublicHost is the host of web tasks' UI addresses and links.
	PublicHost string `json:"public_host"`
	// AllowedHosts are more Host names the TCP listeners answer.
	AllowedHosts []string `json:"allowed_hosts"`
	// SessionIdle and SessionMax bound a browser session.
	SessionIdle Duration `json:"session_idle"`
	SessionMax  Duration `json:"session_max"`
	// Listener are the TCP listener's limits (DefaultListener), TaskUI
	// those of each web task's UI listener (DefaultTaskUIListener).
	Listener listenlimit.Limits `json:"listener"`
	TaskUI   listenlimit.Limits `json:"task_ui_listener"`

	// InImage is true in the Docker image (its entrypoint says so), where
	// the login page points to docker logs; ContainerID is the
	// container's short id there ("" when unknown).
	InImage     bool   `json:"-"`
	ContainerID string `json:"-"`
	// HostCA is the host's CA bundle that image builds (and the tasks of
	// projects with build.host_ca: tasks) get: a path, "off" for none,
	// "" for /etc/ssl/certs/ca-certificates.crt when it exists.
	HostCA string `json:"host_ca"`

	// Public is PublicURL parsed (nil without one), set by Validate.
	Public *url.URL `json:"-"`
}

// Duration is a time.Duration written as "12h" in JSON.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"12h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Session lifetimes by default.
const (
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 7 * 24 * time.Hour
)

// DefaultListener are the TCP listener's limits: kit/listenlimit's
// defaults (their reasons are in its Default) but for
// MaxConnsPerCredential 32, as one credential here is a whole browser
// or every terok command using the access token: a browser keeps up to
// six pooled connections to terok-web and adds an events WebSocket per
// open tab and one per terminal or followed log, and commands such as
// terok logs -f each hold one. 32 is room for a handful of tabs,
// terminals and commands at once; a session or the token holding all
// of them costs 32 descriptors, and the others are served beside it.
func DefaultListener() listenlimit.Limits {
	l := listenlimit.Default()
	l.MaxConnsPerCredential = 32
	return l
}

// DefaultTaskUIListener are the limits of each web task's UI listener:
// kit/listenlimit's defaults but for MaxUncredentialedConns and
// MaxCredentialedConns 16. A task's listener has one credential (the
// task's grants and tickets count together, whoever holds them), so its
// total is its per-credential limit: 16 connections are six pooled ones
// and the app's WebSockets for two or three tabs. A browser without a
// grant there only gets a short page pointing to terok, and a
// connection counts as without one only until its headers arrive, so 16
// such at once is plenty. With 21 task ports, all task UIs together hold
// at most 21 × 32 descriptors.
func DefaultTaskUIListener() listenlimit.Limits {
	l := listenlimit.Default()
	l.MaxUncredentialedConns = 16
	l.MaxCredentialedConns = 16
	return l
}

// Default returns the built-in defaults; entry is where terok-entry is
// expected (beside terok-web's own binary).
func Default() Config {
	exe, _ := os.Executable()
	return Config{
		Socket:      paths.Socket("", paths.Web),
		Listen:      "127.0.0.1:8566",
		StateDir:    paths.StateDir(),
		ConfigDir:   paths.ConfigDir(),
		RunDir:      paths.RunDir(),
		GateListen:  "127.0.0.1:9418",
		VaultListen: "127.0.0.1:" + DefaultVaultPort,
		Entry:       filepath.Join(filepath.Dir(exe), "terok-entry"),
		SessionIdle: Duration(DefaultSessionIdle),
		SessionMax:  Duration(DefaultSessionMax),
		Listener:    DefaultListener(),
		TaskUI:      DefaultTaskUIListener(),
	}
}

// LoadFile overlays the JSON file at path (unknown keys are errors).
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%w: %s: %v (the keys are in docs/configuration.md)", ErrInvalid, path, err)
	}
	return nil
}

// ApplyEnv overlays the environment read through getenv; a value that
// does not parse is an error naming its variable.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	set := func(dst *string, name string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	set(&c.Listen, EnvListen)
	set(&c.Token, EnvToken)
	set(&c.TaskGateHost, EnvTaskGateHost)
	set(&c.PublicURL, EnvPublicURL)
	set(&c.PublicHost, EnvPublicHost)
	c.InImage = strings.TrimSpace(getenv(EnvInImage)) == "1"
	set(&c.ContainerID, EnvContainerID)
	set(&c.HostCA, EnvHostCA)
	// The gate's address: TEROK_GATE_LISTEN (make run-native), else the
	// port the image's entrypoint settled.
	if v := strings.TrimSpace(getenv(EnvGateListen)); v != "" {
		c.GateListen = v
	} else if p := strings.TrimSpace(getenv(EnvGatePort)); p != "" {
		c.GateListen = "0.0.0.0:" + p
	}
	// The vault's broker: TEROK_VAULT_LISTEN (make run-native), else
	// TEROK_VAULT_BIND as terok-vault reads it (a host, or host:port).
	if v := strings.TrimSpace(getenv(EnvVaultListen)); v != "" {
		c.VaultListen = v
	} else if v := strings.TrimSpace(getenv(EnvVaultBind)); v != "" {
		if _, _, err := net.SplitHostPort(v); err != nil {
			v = net.JoinHostPort(strings.Trim(v, "[]"), DefaultVaultPort)
		}
		c.VaultListen = v
	}
	if v := getenv(EnvAllowedHosts); strings.TrimSpace(v) != "" {
		c.AllowedHosts = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.AllowedHosts = append(c.AllowedHosts, h)
			}
		}
	}
	for _, d := range []struct {
		dst  *Duration
		name string
	}{{&c.SessionIdle, EnvSessionIdle}, {&c.SessionMax, EnvSessionMax}} {
		v := strings.TrimSpace(getenv(d.name))
		if v == "" {
			continue
		}
		n, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%w: %s=%q: give a duration such as 12h or 90m", ErrInvalid, d.name, v)
		}
		*d.dst = Duration(n)
	}
	if err := c.Listener.ApplyEnv(EnvListenerPrefix, getenv); err != nil {
		return fmt.Errorf("%w: %v (the TCP listener's limits, docs/web.md)", ErrInvalid, err)
	}
	if err := c.TaskUI.ApplyEnv(EnvTaskUIListenerPrefix, getenv); err != nil {
		return fmt.Errorf("%w: %v (the task UI listeners' limits, docs/web.md)", ErrInvalid, err)
	}
	return nil
}

// Validate checks every value, naming the setting and the fix, and
// parses PublicURL into Public. Listen Off becomes "".
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
	if c.Socket == "" || !filepath.IsAbs(c.Socket) {
		return bad("socket %q: give an absolute path (--socket, or TEROK_RUN_DIR for the default)", c.Socket)
	}
	for name, d := range map[string]string{"state_dir (TEROK_STATE_DIR)": c.StateDir, "config_dir (TEROK_CONFIG_DIR)": c.ConfigDir, "run_dir (TEROK_RUN_DIR)": c.RunDir} {
		if d == "" || !filepath.IsAbs(d) {
			return bad("%s %q: give an absolute path", name, d)
		}
	}
	if c.Listen == Off {
		c.Listen = ""
	}
	if v := c.HostCA; v != "" && v != "off" && v != "none" && !filepath.IsAbs(v) {
		return bad("%s %q: give the CA bundle's absolute path, or off", EnvHostCA, v)
	}
	if c.Listen != "" {
		if _, err := port(c.Listen); err != nil {
			return bad("%s %q: want host:port, e.g. 127.0.0.1:8566, or off", EnvListen, c.Listen)
		}
	}
	if _, err := port(c.GateListen); err != nil {
		return bad("the gate's address %q: want host:port (%s, e.g. 127.0.0.1:9418, or %s in the image)", c.GateListen, EnvGateListen, EnvGatePort)
	}
	if _, err := port(c.VaultListen); err != nil {
		return bad("the vault broker's address %q: want host:port (%s, e.g. 127.0.0.1:9419, or a host or host:port in %s)", c.VaultListen, EnvVaultListen, EnvVaultBind)
	}
	if c.VaultSocket != "" && !filepath.IsAbs(c.VaultSocket) {
		return bad("vault_socket %q: give an absolute path (or TEROK_RUN_DIR for the default)", c.VaultSocket)
	}
	if c.Token != "" {
		if err := accesstoken.Check(c.Token); err != nil {
			return bad("%s %v: give another, or unset it to have one generated", EnvToken, err)
		}
	}
	if c.SessionIdle <= 0 || c.SessionMax <= 0 || c.SessionIdle > c.SessionMax {
		return bad("session lifetimes idle %s, max %s: give positive durations, idle at most max (%s, %s, e.g. 12h and 168h)",
			time.Duration(c.SessionIdle), time.Duration(c.SessionMax), EnvSessionIdle, EnvSessionMax)
	}
	if err := c.Listener.Validate(); err != nil {
		return bad("listener: %v (%s + the key upper-cased, e.g. %sMAX_CONNS_PER_CREDENTIAL)", err, EnvListenerPrefix, EnvListenerPrefix)
	}
	if err := c.TaskUI.Validate(); err != nil {
		return bad("task_ui_listener: %v (%s + the key upper-cased, e.g. %sMAX_CONNS_PER_CREDENTIAL)", err, EnvTaskUIListenerPrefix, EnvTaskUIListenerPrefix)
	}
	c.Public = nil
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return bad("%s %q: give an absolute http:// or https:// URL without credentials, e.g. https://terok.example.org or https://example.org/terok", EnvPublicURL, c.PublicURL)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawQuery, u.Fragment = "", ""
		c.Public = u
	}
	if strings.ContainsAny(c.PublicHost, "/ @") {
		return bad("%s %q: give a host name or address, e.g. terok.lan", EnvPublicHost, c.PublicHost)
	}
	for _, h := range c.AllowedHosts {
		if strings.ContainsAny(h, "/ :@") && !strings.HasPrefix(h, "[") {
			return bad("%s entry %q: give host names only, e.g. terok.lan,*.example.org", EnvAllowedHosts, h)
		}
	}
	if st, err := os.Stat(c.Entry); err != nil || st.IsDir() {
		return bad("entry binary %s: not found: build it with make build, or pass --entry", c.Entry)
	}
	return nil
}

// GatePort is the gate's git port (Validate checked it).
func (c Config) GatePort() int {
	n, _ := port(c.GateListen)
	return n
}

// VaultSock is the vault's admin socket: VaultSocket, else vault.sock in
// RunDir.
func (c Config) VaultSock() string {
	if c.VaultSocket != "" {
		return c.VaultSocket
	}
	return filepath.Join(c.RunDir, paths.Vault+".sock")
}

// VaultPort is the vault's broker port (Validate checked it).
func (c Config) VaultPort() int {
	n, _ := port(c.VaultListen)
	return n
}

func port(hostport string) (int, error) {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("port %q", p)
	}
	return n, nil
}

// GateHostURL is the gate's base URL for the host (clone URLs shown to
// users): its listen address, loopback for a wildcard.
func (c Config) GateHostURL() string {
	host, p, _ := net.SplitHostPort(c.GateListen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, p)
}

// LoginURL is where a browser logs in with token: under Public when set,
// else the listen address ("" without TCP).
func (c Config) LoginURL(token string) string {
	base := ""
	switch {
	case c.Public != nil:
		base = c.Public.String()
	case c.Listen != "":
		host, p, _ := net.SplitHostPort(c.Listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		base = "http://" + net.JoinHostPort(host, p)
	default:
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/?token=" + token
}
