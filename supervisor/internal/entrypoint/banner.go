package entrypoint

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
)

// BannerInfo is what the start-up banner shows.
type BannerInfo struct {
	Version    string
	PublicURL  string // TEROK_PUBLIC_URL, may be empty
	PublicHost string // TEROK_PUBLIC_HOST, may be empty
	WebListen  string // host:port of the web UI
	GateBind   string // TEROK_GATE_BIND: host or host:port
	WebToken   Token
	GateToken  Token
	// ContainerID is this container's short id (ContainerID), "" when
	// it could not be found.
	ContainerID string
}

// WebURL is the browser-facing base URL: TEROK_PUBLIC_URL when set, else
// http://<public host or localhost>:<web port>.
func (b BannerInfo) WebURL() string {
	if b.PublicURL != "" {
		return strings.TrimRight(b.PublicURL, "/")
	}
	return "http://" + net.JoinHostPort(b.host(), PortOf(b.WebListen, "8566"))
}

// GateURL is the base URL of the git gate as the host sees it.
func (b BannerInfo) GateURL(token string) string {
	// Tokens hold only URL-safe characters (ValidToken), so no escaping.
	host := net.JoinHostPort(b.host(), PortOf(b.GateBind, "9418"))
	if token != "" {
		return "http://" + token + "@" + host
	}
	return "http://" + host
}

func (b BannerInfo) host() string {
	if h := b.PublicHost; h != "" && h != "0.0.0.0" && h != "::" {
		return h
	}
	return "localhost"
}

// PortOf returns the port of a host:port, or def when addr has none.
func PortOf(addr, def string) string {
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
		return p
	}
	return def
}

// Write prints the banner.
func (b BannerInfo) Write(w io.Writer) {
	show := func(t Token, env string) string {
		switch t.Source {
		case FromEnv:
			return "(set by " + env + ")"
		case FromCreated:
			return t.Value + "   (new; kept in " + t.Path + ")"
		default:
			return t.Value + "   (kept in " + t.Path + ")"
		}
	}
	login := b.WebURL() + "/?token=" + url.QueryEscape(b.WebToken.Value)
	if b.WebToken.Source == FromEnv {
		login = b.WebURL() + "/?token=<TEROK_WEB_TOKEN>"
	}
	clone := b.GateURL("<admin token>") + "/<project>.git"
	if b.GateToken.Source != FromEnv {
		clone = b.GateURL(b.GateToken.Value) + "/<project>.git"
	}
	// Commands that work as printed: the container's name is not visible
	// inside it, its id is (ContainerID); without one, a sentence.
	cmds := "  shell:             docker exec -it -u podman " + b.ContainerID + " bash\n" +
		"  status:            docker exec " + b.ContainerID + " supervisorctl status\n"
	if b.ContainerID == "" {
		cmds = "  shell and status:  docker exec -it -u podman with this container's name (docker ps lists it) and bash,\n" +
			"                     or docker exec with the name and supervisorctl status\n"
	}
	fmt.Fprintf(w, `
terok-in-docker %s  (experimental: local evaluation only, not for the public internet)
  web UI:            %s
  web token:         %s
  gate admin token:  %s
  clone a project:   git clone %s
%s
`, b.Version, login, show(b.WebToken, "TEROK_WEB_TOKEN"), show(b.GateToken, "TEROK_GATE_ADMIN_TOKEN"), clone, cmds)
}
