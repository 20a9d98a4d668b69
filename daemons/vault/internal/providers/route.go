package providers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Route is one kind of request a task may send: methods and a path
// pattern. In a pattern, '*' inside a segment matches any characters but
// '/' (so /v1/models/* matches /v1/models/x, and
// /v1beta/models/*:generateContent matches a model's generateContent),
// and a last segment "**" matches one or more segments. The query string
// is not part of the match.
type Route struct {
	Methods []string `json:"methods"`
	Pattern string   `json:"path"`
	segs    []string
}

var knownMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// ParseRoute reads "METHOD[,METHOD...] /path/pattern".
func ParseRoute(methods, pattern string) (Route, error) {
	r := Route{Pattern: pattern}
	for _, m := range strings.Split(methods, ",") {
		if !slices.Contains(knownMethods, m) {
			return Route{}, fmt.Errorf("method %q: use %s (upper case, comma-separated)", m, strings.Join(knownMethods, ", "))
		}
		r.Methods = append(r.Methods, m)
	}
	if !strings.HasPrefix(pattern, "/") {
		return Route{}, fmt.Errorf("path %q must start with '/'", pattern)
	}
	r.segs = strings.Split(pattern[1:], "/")
	for i, s := range r.segs {
		switch {
		case s == "" || s == "." || s == "..":
			return Route{}, fmt.Errorf("path %q has an empty, '.' or '..' segment", pattern)
		case s == "**" && i != len(r.segs)-1:
			return Route{}, fmt.Errorf("path %q: '**' may only be the last segment", pattern)
		case strings.Contains(s, "**") && s != "**":
			return Route{}, fmt.Errorf("path %q: '**' must be a whole segment", pattern)
		}
		for _, c := range s {
			if !pathChar(c) && c != '*' {
				return Route{}, fmt.Errorf("path %q: character %q is not allowed in a pattern", pattern, c)
			}
		}
	}
	return r, nil
}

func pathChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~:@!$&'()+,;=", c)
}

// Match reports whether a request with method and (decoded, clean) path
// is this route.
func (r Route) Match(method, path string) bool {
	if !slices.Contains(r.Methods, method) || !strings.HasPrefix(path, "/") {
		return false
	}
	segs := strings.Split(path[1:], "/")
	for i, p := range r.segs {
		if p == "**" {
			return len(segs) > i && !slices.Contains(segs[i:], "")
		}
		if i >= len(segs) || !globSegment(p, segs[i]) {
			return false
		}
	}
	return len(segs) == len(r.segs)
}

// String is the route as written in a provider file.
func (r Route) String() string { return strings.Join(r.Methods, ",") + " " + r.Pattern }

// globSegment matches one path segment against a pattern segment in which
// '*' stands for any run of characters (never '/', which a segment lacks).
// An empty segment matches nothing.
func globSegment(pat, s string) bool {
	if s == "" {
		return false
	}
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
