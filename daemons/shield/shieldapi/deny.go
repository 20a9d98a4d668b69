package shieldapi

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
)

// DenyValue builds the value of AnnotationDeny from entries: host names,
// URLs (a provider's upstream such as "https://api.anthropic.com", whose
// host is taken), host:port pairs, wildcards (*.example.com), IP
// addresses or CIDRs. Each is checked as the daemon will check it; the
// result is in canonical form, sorted, without repeats ("" for none). An
// error names the entry that is not one of these.
func DenyValue(entries ...string) (string, error) {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		h, err := denyHost(e)
		if err != nil {
			return "", err
		}
		t, err := target.Parse(h)
		if err != nil {
			return "", fmt.Errorf("deny entry %q: want a host name, URL, *.domain, IP address or CIDR: %w", e, err)
		}
		out = append(out, t.String())
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ","), nil
}

// denyHost takes the host out of a URL or a host:port pair; anything else
// is returned as it is.
func denyHost(e string) (string, error) {
	e = strings.TrimSpace(e)
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		if err != nil || u.Hostname() == "" {
			return "", fmt.Errorf("deny entry %q: not a URL with a host", e)
		}
		return u.Hostname(), nil
	}
	if h, _, err := net.SplitHostPort(e); err == nil {
		return h, nil
	}
	return e, nil
}
