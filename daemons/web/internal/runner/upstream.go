package runner

import (
	"net"
	"net/url"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// UpstreamErr is the error for a gate call the project's upstream failed
// (the gate answered 502): it names the upstream and the address tried,
// and for a loopback address says whose loopback that is.
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
	return &upstreamError{msg}
}

// upstreamError is an UpstreamErr; it matches ErrUpstream.
type upstreamError struct{ msg string }

func (e *upstreamError) Error() string        { return e.msg }
func (e *upstreamError) Is(target error) bool { return target == ErrUpstream }

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
