package providers

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/names"
)

// Header is where a credential goes in (or a phantom comes in): a header
// name and, for Authorization-style headers, a scheme such as Bearer.
type Header struct {
	Name   string `json:"name"`
	Scheme string `json:"scheme,omitempty"`
}

// Value is the header value carrying cred.
func (h Header) Value(cred string) string {
	if h.Scheme != "" {
		return h.Scheme + " " + cred
	}
	return cred
}

// Take returns the credential a header value carries, if it has this
// header's form (scheme compared case-insensitively).
func (h Header) Take(v string) (string, bool) {
	if h.Scheme == "" {
		return strings.TrimSpace(v), v != ""
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, h.Scheme) {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// String is the header as written in a provider file.
func (h Header) String() string { return strings.TrimSpace(h.Name + " " + h.Scheme) }

// Place is where a phantom may arrive from an agent: a header, or a query
// parameter (Query set).
type Place struct {
	Header
	Query string `json:"query,omitempty"`
}

// EnvHint is a variable an agent reads: its value is a template where
// {broker} stands for the broker's base URL as the task sees it and
// {phantom} for the task's phantom token.
type EnvHint struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Login flows a provider may declare.
const (
	FlowDevice       = "device"        // RFC 8628 device authorization
	FlowRefreshToken = "refresh-token" // a pasted refresh token
)

// Login is a provider's OAuth login, run and refreshed by the vault.
type Login struct {
	Flows     []string `json:"flows"`
	TokenURL  string   `json:"token_url"`
	DeviceURL string   `json:"device_url,omitempty"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	// Inject is the header the access token goes in (default
	// Authorization Bearer).
	Inject Header `json:"inject"`
}

// Has reports whether the login declares flow.
func (l *Login) Has(flow string) bool { return l != nil && slices.Contains(l.Flows, flow) }

// Provider is one API provider the broker forwards to.
type Provider struct {
	Name string `json:"name"`
	// Source is "shipped" or the path of root's file.
	Source string `json:"source"`
	// About is the file's leading comment.
	About string `json:"about,omitempty"`
	// Upstream is the https origin (and optional base path) requests go to.
	Upstream *url.URL `json:"-"`
	// Inject is the header the real key goes in.
	Inject Header `json:"inject"`
	// Accept lists where the agent's phantom may arrive.
	Accept  []Place   `json:"accept"`
	Phantom Template  `json:"-"`
	Routes  []Route   `json:"routes"`
	Env     []EnvHint `json:"env,omitempty"`
	Login   *Login    `json:"login,omitempty"`
}

// directives lists every line a provider file may hold, for errors.
var directives = []string{"upstream", "inject", "accept", "phantom", "route", "env",
	"login", "token-url", "device-url", "client-id", "scope", "login-inject"}

// lineError is an error at one line of a file.
func lineError(src string, line int, format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, src, line, fmt.Sprintf(format, args...))
}

// Parse reads a provider file. name is the provider's name (its file's
// stem), src names the file in errors. Every error names file and line
// and what to write.
func Parse(name, src string, b []byte) (*Provider, error) {
	if err := names.CheckProvider(name); err != nil {
		return nil, fmt.Errorf("%w: %s: the file name makes the provider's name: %v; rename the file", ErrInvalid, src, err)
	}
	p := &Provider{Name: name, Source: src}
	seen := map[string]int{}
	var about []string
	var login *Login
	var loginInject *Header
	loginVals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if len(seen) == 0 {
				about = append(about, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			}
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		f := strings.Fields(line)
		d, args := f[0], f[1:]
		single := d != "accept" && d != "route" && d != "env"
		if prev, dup := seen[d]; dup && single {
			return nil, lineError(src, n, "a second %q line (the first is line %d); keep one", d, prev)
		}
		seen[d] = n
		want := func(min, max int, form string) error {
			if len(args) < min || len(args) > max {
				return lineError(src, n, "%q takes %s", d, form)
			}
			return nil
		}
		switch d {
		case "upstream":
			if err := want(1, 1, "one https URL, e.g. upstream https://api.example.com"); err != nil {
				return nil, err
			}
			u, err := url.Parse(args[0])
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return nil, lineError(src, n, "upstream %q must be an https URL without user, query or fragment, e.g. https://api.example.com", args[0])
			}
			u.Path = strings.TrimRight(u.Path, "/")
			p.Upstream = u
		case "inject":
			if err := want(1, 2, "a header name and optionally its scheme: inject x-api-key, or inject Authorization Bearer"); err != nil {
				return nil, err
			}
			h, err := parseHeader(args)
			if err != nil {
				return nil, lineError(src, n, "%v", err)
			}
			p.Inject = h
		case "accept":
			if err := want(1, 2, "a header (accept x-api-key, accept Authorization Bearer) or a query parameter (accept query key)"); err != nil {
				return nil, err
			}
			if args[0] == "query" {
				if len(args) != 2 || !token(args[1]) {
					return nil, lineError(src, n, "write accept query NAME, e.g. accept query key")
				}
				p.Accept = append(p.Accept, Place{Query: args[1]})
				continue
			}
			h, err := parseHeader(args)
			if err != nil {
				return nil, lineError(src, n, "%v", err)
			}
			p.Accept = append(p.Accept, Place{Header: h})
		case "phantom":
			if err := want(1, 1, "one key template, e.g. phantom sk-{alnum:48}"); err != nil {
				return nil, err
			}
			t, err := ParseTemplate(args[0])
			if err != nil {
				return nil, lineError(src, n, "phantom: %v", err)
			}
			p.Phantom = t
		case "route":
			if err := want(2, 2, "methods and a path, e.g. route POST /v1/messages or route GET,HEAD /v1/models/*"); err != nil {
				return nil, err
			}
			r, err := ParseRoute(args[0], args[1])
			if err != nil {
				return nil, lineError(src, n, "route: %v", err)
			}
			p.Routes = append(p.Routes, r)
		case "env":
			if err := want(2, 2, "a variable and its value, e.g. env ANTHROPIC_BASE_URL {broker}/anthropic"); err != nil {
				return nil, err
			}
			if !envName(args[0]) {
				return nil, lineError(src, n, "env %q is not a variable name (A-Z, 0-9, _)", args[0])
			}
			p.Env = append(p.Env, EnvHint{Name: args[0], Value: args[1]})
		case "login":
			if err := want(1, 2, "one or both flows: login device, login refresh-token, login device refresh-token"); err != nil {
				return nil, err
			}
			login = &Login{}
			for _, fl := range args {
				if fl != FlowDevice && fl != FlowRefreshToken {
					return nil, lineError(src, n, "login flow %q: use device or refresh-token", fl)
				}
				login.Flows = append(login.Flows, fl)
			}
		case "token-url", "device-url":
			if err := want(1, 1, "one https URL"); err != nil {
				return nil, err
			}
			u, err := url.Parse(args[0])
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
				return nil, lineError(src, n, "%s %q must be an https URL", d, args[0])
			}
			loginVals[d] = args[0]
		case "client-id", "scope":
			if len(args) == 0 {
				return nil, lineError(src, n, "%q takes a value", d)
			}
			loginVals[d] = strings.Join(args, " ")
		case "login-inject":
			if err := want(1, 2, "a header name and optionally its scheme, e.g. login-inject Authorization Bearer"); err != nil {
				return nil, err
			}
			h, err := parseHeader(args)
			if err != nil {
				return nil, lineError(src, n, "%v", err)
			}
			loginInject = &h
		default:
			return nil, lineError(src, n, "unknown directive %q; a provider file holds %s", d, strings.Join(directives, ", "))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrInvalid, src, n+1, err)
	}
	for _, req := range []struct{ d, example string }{
		{"upstream", "upstream https://api.example.com"},
		{"inject", "inject x-api-key"},
		{"phantom", "phantom sk-{alnum:48}"},
		{"route", "route POST /v1/messages"},
	} {
		if _, ok := seen[req.d]; !ok {
			return nil, fmt.Errorf("%w: %s: no %q line; add one, e.g. %s", ErrInvalid, src, req.d, req.example)
		}
	}
	if len(p.Accept) == 0 {
		p.Accept = []Place{{Header: p.Inject}}
	}
	if err := finishLogin(p, src, seen, login, loginInject, loginVals); err != nil {
		return nil, err
	}
	p.About = strings.Join(about, " ")
	return p, nil
}

// finishLogin fills p.Login from the login lines, or refuses login lines
// without a "login" line and a login without what its flows need.
func finishLogin(p *Provider, src string, seen map[string]int, login *Login, inject *Header, vals map[string]string) error {
	loginKeys := []string{"token-url", "device-url", "client-id", "scope", "login-inject"}
	if login == nil {
		for _, k := range loginKeys {
			if l, ok := seen[k]; ok {
				return lineError(src, l, "%q without a \"login\" line; add login device or login refresh-token, or remove it", k)
			}
		}
		return nil
	}
	login.TokenURL, login.DeviceURL = vals["token-url"], vals["device-url"]
	login.ClientID, login.Scope = vals["client-id"], vals["scope"]
	login.Inject = Header{Name: "Authorization", Scheme: "Bearer"}
	if inject != nil {
		login.Inject = *inject
	}
	at := seen["login"]
	if login.TokenURL == "" || login.ClientID == "" {
		return lineError(src, at, "a login needs a \"token-url\" and a \"client-id\" line")
	}
	if login.Has(FlowDevice) && login.DeviceURL == "" {
		return lineError(src, at, "the device flow needs a \"device-url\" line (the device authorization endpoint)")
	}
	p.Login = login
	return nil
}

func parseHeader(args []string) (Header, error) {
	h := Header{Name: http.CanonicalHeaderKey(args[0])}
	if !token(args[0]) {
		return Header{}, fmt.Errorf("header %q is not a header name", args[0])
	}
	if len(args) == 2 {
		if !token(args[1]) {
			return Header{}, fmt.Errorf("scheme %q is not a word like Bearer", args[1])
		}
		h.Scheme = args[1]
	}
	return h, nil
}

// token reports whether s is an HTTP token (header names, schemes).
func token(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

func envName(s string) bool {
	for i, c := range s {
		if !(c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// Allowed returns the route that admits method and path, if any.
func (p *Provider) Allowed(method, path string) (Route, bool) {
	for _, r := range p.Routes {
		if r.Match(method, path) {
			return r, true
		}
	}
	return Route{}, false
}

// UpstreamHost is the upstream's host[:port].
func (p *Provider) UpstreamHost() string { return p.Upstream.Host }
