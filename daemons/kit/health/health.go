// Package health is the GET /v1/health convention every terok daemon answers
// on its unix socket, with its wire type and a typed client call.
package health

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Path is the health endpoint on every daemon socket.
const Path = "/v1/health"

// Status is the wire form of a health answer.
type Status struct {
	Name    string         `json:"name"`
	Status  string         `json:"status"` // "ok" or "degraded"
	Version string         `json:"version"`
	PID     int            `json:"pid"`
	Uptime  float64        `json:"uptime_seconds"`
	Details map[string]any `json:"details,omitempty"`
	Problem string         `json:"problem,omitempty"`
}

// Probe adds daemon-specific details; a non-nil error marks the daemon
// degraded (HTTP 503) with the error as the problem.
type Probe func(ctx context.Context) (map[string]any, error)

// Handler answers GET /v1/health for the daemon name. probe may be nil.
func Handler(name, version string, probe Probe) http.Handler {
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := Status{Name: name, Status: "ok", Version: version, PID: os.Getpid(),
			Uptime: time.Since(started).Round(time.Millisecond).Seconds()}
		code := http.StatusOK
		if probe != nil {
			d, err := probe(r.Context())
			st.Details = d
			if err != nil {
				st.Status, st.Problem, code = "degraded", err.Error(), http.StatusServiceUnavailable
			}
		}
		unixhttp.WriteJSON(w, code, st)
	})
}

// Check asks the daemon behind c for its health. A degraded daemon answers
// with an error carrying its problem.
func Check(ctx context.Context, c *unixhttp.Client) (Status, error) {
	var st Status
	err := c.Get(ctx, Path, &st)
	return st, err
}
