package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// Origin is a web origin: scheme, host and port (default ports filled).
type Origin struct{ Scheme, Host, Port string }

// String is scheme://host:port (the port left out when it is the
// scheme's default).
func (o Origin) String() string {
	if (o.Scheme == "http" && o.Port == "80") || (o.Scheme == "https" && o.Port == "443") {
		return o.Scheme + "://" + o.Host
	}
	return o.Scheme + "://" + o.Host + ":" + o.Port
}

// ParseOrigin parses "scheme://host[:port]" (an Origin header, or a URL
// whose path is ignored); ok is false for "null" and anything else.
func ParseOrigin(s string) (Origin, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return Origin{}, false
	}
	o := Origin{Scheme: u.Scheme, Host: normHost(u.Hostname()), Port: u.Port()}
	if o.Port == "" {
		o.Port = map[string]string{"http": "80", "https": "443"}[o.Scheme]
	}
	return o, true
}

// RequestOrigin is the origin a browser used for r: its Host, with https
// when it came over TLS or a proxy says so (X-Forwarded-Proto).
func RequestOrigin(r *http.Request) (Origin, bool) {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	if r.Host == "" {
		return Origin{}, false
	}
	return ParseOrigin(scheme + "://" + r.Host)
}

// SameOrigin reports whether r's Origin header names the origin r was
// sent to, or one of extra, exactly: scheme, host and port (another port
// of the same host is another origin). A request without Origin (not
// from a browser) passes; "null" does not.
func SameOrigin(r *http.Request, extra ...Origin) bool {
	h := r.Header.Get("Origin")
	if h == "" {
		return true
	}
	got, ok := ParseOrigin(h)
	if !ok {
		return false
	}
	if own, ok := RequestOrigin(r); ok && own == got {
		return true
	}
	for _, o := range extra {
		if o == got {
			return true
		}
	}
	return false
}
