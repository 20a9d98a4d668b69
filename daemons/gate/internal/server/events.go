package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// heartbeat is how often a following event stream without news sends an
// empty line, so a client or proxy sees the stream is alive and a gone
// client is noticed.
var heartbeat = 25 * time.Second

// listEvents answers GET /v1/events?since=N[&follow=1]: the kept events
// after seq N as JSON lines, oldest first; with follow the stream stays
// open and carries each new event as it is recorded (and an empty line
// every 25 s while nothing happens).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			unixhttp.WriteErrorDetail(w, http.StatusBadRequest, fmt.Sprintf("since %q is not a sequence number", v),
				"pass the seq of the last event you have, or 0 for all")
			return
		}
		since = n
	}
	follow := false
	if v := q.Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			unixhttp.WriteErrorDetail(w, http.StatusBadRequest, fmt.Sprintf("follow %q is not a boolean", v), "use follow=1 or follow=0")
			return
		}
		follow = b
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		evs, changed := s.events.Since(since)
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return
			}
			since = e.Seq
		}
		if !follow {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if s.events.Closed() {
			return
		}
		select {
		case <-changed:
		case <-tick.C:
			if _, err := w.Write([]byte("\n")); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.stopping:
			return
		}
	}
}

// diffRepo answers GET /v1/repos/{name}/diff?head=B[&base=A].
func (s *Server) diffRepo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d, err := s.repos.Diff(r.Context(), r.PathValue("name"), q.Get("base"), q.Get("head"))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, d)
}
