package webproxy

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Addresses says where browsers reach terok and task UIs: the host a
// browser used for terok (its UI and the task listeners share the host),
// TEROK_PUBLIC_URL's scheme and host (with TEROK_PUBLIC_HOST's in its
// place when set) for requests that came through the public URL, and for
// callers without a browser's host (web.sock) TEROK_PUBLIC_URL,
// TEROK_PUBLIC_HOST or the listen address.
type Addresses struct {
	public     *url.URL
	publicHost string
	listenHost string
	mainPort   int
}

// NewAddresses returns the addresses for TEROK_PUBLIC_URL (public, nil
// for none), TEROK_PUBLIC_HOST and TEROK_WEB_LISTEN (listen, host:port),
// as package config checked them.
func NewAddresses(public *url.URL, publicHost, listen string) *Addresses {
	a := &Addresses{publicHost: strings.TrimSpace(publicHost)}
	if public != nil {
		u := *public
		u.Path = strings.TrimSuffix(u.Path, "/")
		a.public = &u
	}
	if h, p, err := net.SplitHostPort(listen); err == nil {
		a.listenHost = h
		a.mainPort, _ = strconv.Atoi(p)
	}
	return a
}

// ListenHost is the host the task listeners bind (the main listener's).
func (a *Addresses) ListenHost() string { return a.listenHost }

// viaPublic reports whether r came through TEROK_PUBLIC_URL's host.
func (a *Addresses) viaPublic(r *http.Request) bool {
	if a.public == nil || r == nil {
		return false
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	return strings.EqualFold(host, a.public.Host) || strings.EqualFold(host, a.public.Hostname()) && a.public.Port() == ""
}

// Base returns the scheme and host of a task UI's address for a request
// (nil: a caller without a browser's host).
func (a *Addresses) Base(r *http.Request) (scheme, host string) {
	switch {
	case a.viaPublic(r):
		host = a.public.Hostname()
		if a.publicHost != "" {
			host = a.publicHost
		}
		return a.public.Scheme, host
	case r != nil && r.Host != "":
		h := r.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		return "http", strings.Trim(h, "[]")
	case a.public != nil:
		host = a.public.Hostname()
		if a.publicHost != "" {
			host = a.publicHost
		}
		return a.public.Scheme, host
	case a.publicHost != "":
		return "http", a.publicHost
	}
	h := a.listenHost
	if h == "" || h == "0.0.0.0" || h == "::" {
		h = "localhost"
	}
	return "http", h
}

// TaskURL is the address of the UI published on port, for r.
func (a *Addresses) TaskURL(r *http.Request, port int) string {
	scheme, host := a.Base(r)
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/"
}

// FrameSource is the Content-Security-Policy source that lets terok's
// page for r embed task UIs: scheme://host:* of their addresses.
func (a *Addresses) FrameSource(r *http.Request) string {
	scheme, host := a.Base(r)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":*"
}

// TerokOrigins are the origins terok's own pages may have for a request
// reaching a task listener: the same host on terok's port, and
// TEROK_PUBLIC_URL's origin.
func (a *Addresses) TerokOrigins(r *http.Request) []string {
	var out []string
	if a.public != nil {
		out = append(out, a.public.Scheme+"://"+a.public.Host)
	}
	if r != nil && r.Host != "" && a.mainPort > 0 {
		h := r.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		scheme := "http"
		if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "https"
		}
		out = append(out, scheme+"://"+net.JoinHostPort(strings.Trim(h, "[]"), strconv.Itoa(a.mainPort)))
	}
	return out
}

// TaskPage is terok's page of task id, as a link for a request reaching
// the task's listener: under TEROK_PUBLIC_URL when the request came by the
// public host, else the same host on terok's port.
func (a *Addresses) TaskPage(r *http.Request, id string) string {
	if a.public != nil && r != nil {
		pub := a.public.Hostname()
		if a.publicHost != "" {
			pub = a.publicHost
		}
		if h := strings.Trim(hostOnly(r.Host), "[]"); strings.EqualFold(h, pub) || strings.EqualFold(h, a.public.Hostname()) {
			return a.public.String() + "/task/" + url.PathEscape(id)
		}
	}
	if o := a.TerokOrigins(r); len(o) > 0 {
		return o[len(o)-1] + "/task/" + url.PathEscape(id)
	}
	return "/task/" + url.PathEscape(id)
}

func hostOnly(hp string) string {
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return hp
}
