package api

import (
	"net/http"
	"strconv"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// none is the input of a route that takes no body.
type none struct{}

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

// call is the one shape of a JSON route: decode the body into In (none:
// no body read), call fn, and answer its Out with status, or its error
// (writeErr).
func call[In, Out any](status int, fn func(r *http.Request, in In) (Out, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		if _, empty := any(in).(none); !empty {
			if err := unixhttp.DecodeJSON(r, maxBody, &in); err != nil {
				writeErr(w, fail.BadRequest("%v", err))
				return
			}
		}
		out, err := fn(r, in)
		if err != nil {
			writeErr(w, err)
			return
		}
		unixhttp.WriteJSON(w, status, out)
	}
}

// writeErr answers err with its status (fail.Status) for people: its
// message without the HTTP status of another daemon's answer in it (the
// status line carries ours), and no detail (the messages say what to do
// themselves).
func writeErr(w http.ResponseWriter, err error) {
	unixhttp.WriteErrorDetail(w, fail.Status(err), unixhttp.Message(err), "")
}

// queryInt reads query parameter name as a whole number (def when it is
// absent); anything else is a bad request naming it and an example.
func queryInt(r *http.Request, name string, def int, example string) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fail.BadRequest("%s=%q: give a whole number, e.g. ?%s=%s", name, s, name, example)
	}
	return n, nil
}

// queryBool reads query parameter name: 1 or true, 0 or false, absent
// false; anything else is a bad request.
func queryBool(r *http.Request, name string) (bool, error) {
	switch s := r.URL.Query().Get(name); s {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, fail.BadRequest("%s=%q: give 1 or 0 (true or false)", name, s)
	}
}
