package projects

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// ErrUpstream means the gate answered but the project's upstream
// repository failed it (refused, unreachable, denied): answered 502, and
// errors.Is matches unixhttp.ErrUnavailable too.
var ErrUpstream = fail.Sentinel(unixhttp.ErrUnavailable, http.StatusBadGateway, "upstream failed")

// GateErr is the error of a gate call about project p: the upstream's
// failure (the gate answered 502) names the upstream (UpstreamErr),
// anything else the gate (fail.Daemon).
func GateErr(p Project, what string, err error) error {
	if unixhttp.StatusOf(err) == http.StatusBadGateway {
		return UpstreamErr(p.Name, p.Git.UpstreamURL, err)
	}
	return fail.Daemon("terok-gate", what, err)
}

// UpstreamErr is the error for a gate call the project's upstream failed
// (the gate answered 502): it names the upstream and the address tried,
// and for a loopback address says whose loopback that is. It matches
// ErrUpstream.
func UpstreamErr(project, upstream string, err error) error {
	u := Redact(upstream)
	addr := ""
	if pu, perr := url.Parse(upstream); perr == nil && pu.Host != "" {
		addr = pu.Host
		if pu.Port() == "" {
			switch pu.Scheme {
			case "http":
				addr = net.JoinHostPort(pu.Hostname(), "80")
			case "https":
				addr = net.JoinHostPort(pu.Hostname(), "443")
			case "ssh":
				addr = net.JoinHostPort(pu.Hostname(), "22")
			}
		}
	} else if i := strings.Index(upstream, "@"); i >= 0 { // git@host:path
		if j := strings.Index(upstream[i:], ":"); j > 0 {
			addr = net.JoinHostPort(upstream[i+1:i+j], "22")
		}
	}
	msg := "terok-gate could not use the upstream of project " + project + ", " + u
	if addr != "" {
		msg += " (address " + addr + ")"
	}
	msg += ": " + unixhttp.Message(err)
	if h, _, serr := net.SplitHostPort(addr); serr == nil {
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() || h == "localhost" {
			msg += "; " + h + " is the machine terok-gate runs on: in the Docker image with bridge networking that is the container itself, not the Docker host (docs/docker.md, \"An upstream on the Docker host\")"
		}
	}
	return fail.Because(ErrUpstream, err, "%s", msg)
}

// Redact drops the user and password of a URL (a token in an upstream
// URL must not reach messages).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
