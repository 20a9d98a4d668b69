package auth

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// AllowedHostsVar names the variable that adds host names to Hosts.
const AllowedHostsVar = "TEROK_WEB_ALLOWED_HOSTS"

// Hosts decides which Host headers terok's TCP listeners answer: a page
// whose own name resolves to 127.0.0.1 (DNS rebinding) sends its own name
// as Host and is refused. Accepted: IP literals (rebinding needs a name;
// LAN users arrive by the host's address, which terok cannot know),
// localhost and its subdomains, the hosts of TEROK_PUBLIC_URL and
// TEROK_PUBLIC_HOST, and the names of TEROK_WEB_ALLOWED_HOSTS ("*.x.org"
// for every name below x.org).
type Hosts struct {
	names    map[string]bool
	suffixes []string // ".x.org" for "*.x.org"
}

// NewHosts builds the list from TEROK_PUBLIC_URL (public, nil for none),
// TEROK_PUBLIC_HOST and TEROK_WEB_ALLOWED_HOSTS (allowed, as package
// config checked them).
func NewHosts(public *url.URL, publicHost string, allowed []string) *Hosts {
	h := &Hosts{names: map[string]bool{"localhost": true}}
	if public != nil {
		h.names[normHost(public.Hostname())] = true
	}
	if publicHost != "" {
		h.names[normHost(hostOnly(publicHost))] = true
	}
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(a, "*."); ok {
			h.suffixes = append(h.suffixes, "."+normHost(rest))
			continue
		}
		h.names[normHost(hostOnly(a))] = true
	}
	return h
}

func hostOnly(hp string) string {
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hp, "["), "]")
}

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// Allowed reports whether a Host header (host[:port]) is accepted.
func (h *Hosts) Allowed(hostport string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: no browser sends that
	}
	name := normHost(hostOnly(hostport))
	if net.ParseIP(name) != nil {
		return true
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") || h.names[name] {
		return true
	}
	for _, s := range h.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Guard refuses requests for unknown host names (403) with a page that
// says which variable to set; the rest go to next.
func (h *Hosts) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.Allowed(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		name := hostOnly(r.Host)
		msg := fmt.Sprintf("terok does not answer requests for the host name %q: a page whose name was made to point at this machine (DNS rebinding) could otherwise reach it. "+
			"If you reach terok under this name, add it to %s (a comma list, *.example.org for every name below it), or open terok by its IP address or localhost.", name, AllowedHostsVar)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(r.URL.Path, "/api/") || !strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "{\"error\": %q, \"detail\": \"unknown host name\"}\n", msg)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>Unknown host name · terok</title><h1>Unknown host name</h1><p>%s</p>\n", html.EscapeString(msg))
	})
}
