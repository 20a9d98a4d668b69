// Package health is the GET /v1/health convention every terok daemon answers
// on its unix socket, with its wire type and a typed client call.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Check asks the daemon behind c for its health. A degraded daemon's
// answer is returned with an *unixhttp.APIError (503, ErrUnavailable)
// whose message is its problem; one that does not answer gives only the
// error.
func Check(ctx context.Context, c *unixhttp.Client) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(Path), nil)
	if err != nil {
		return st, err
	}
	body, err := c.Send(req)
	if err == nil {
		defer body.Close()
		if derr := json.NewDecoder(body).Decode(&st); derr != nil {
			return st, fmt.Errorf("decode the health answer: %w", derr)
		}
		return st, nil
	}
	var ae *unixhttp.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable {
		// The degraded answer is a Status too; its problem is the message.
		if json.Unmarshal([]byte(ae.Message), &st) == nil && st.Status != "" {
			msg := st.Problem
			if msg == "" {
				msg = st.Name + " is " + st.Status
			}
			return st, &unixhttp.APIError{Status: ae.Status, Message: msg}
		}
	}
	return st, err
}

// Degraded reports whether err is the answer of a daemon that runs but
// is degraded (Check returned its Status with it).
func Degraded(st Status, err error) bool {
	return err != nil && st.Status == "degraded"
}
