package unixhttp

import (
	"fmt"
	"net/http"
	"strings"
)

// JSONErrors wraps a *http.ServeMux so that a request matching none of its
// routes (404) or only other methods of one (405, Allow header kept) gets
// the JSON error body every daemon promises, naming the method and path.
// Any other handler is returned unchanged.
func JSONErrors(h http.Handler) http.Handler {
	mux, ok := h.(*http.ServeMux)
	if !ok {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux answers with its own plain-text error (or a redirect for
		// a path that needs cleaning): let it set status and headers, and
		// replace a plain-text 404/405 body with JSON.
		jw := &jsonErrorWriter{ResponseWriter: w, r: r}
		inner.ServeHTTP(jw, r)
	})
}

type jsonErrorWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (j *jsonErrorWriter) WriteHeader(code int) {
	if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		j.ResponseWriter.WriteHeader(code)
		return
	}
	j.replaced = true
	h := j.Header()
	h.Del("Content-Length")
	h.Del("X-Content-Type-Options")
	var body ErrorBody
	if code == http.StatusNotFound {
		body = ErrorBody{Error: fmt.Sprintf("no such route: %s %s", j.r.Method, j.r.URL.Path),
			Detail: "see the API reference (docs/api.md) for the routes of this socket"}
	} else {
		body = ErrorBody{Error: fmt.Sprintf("method %s not allowed on %s", j.r.Method, j.r.URL.Path),
			Detail: "allowed: " + strings.Join(h.Values("Allow"), ", ")}
	}
	WriteJSON(j.ResponseWriter, code, body)
}

func (j *jsonErrorWriter) Write(b []byte) (int, error) {
	if j.replaced {
		return len(b), nil
	}
	return j.ResponseWriter.Write(b)
}
