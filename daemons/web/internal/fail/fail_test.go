package fail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

var errMissing = Sentinel(unixhttp.ErrBadRequest, http.StatusUnprocessableEntity, "image missing")

// TestKindsStatusesAndMessages: each error keeps its message (no kind's
// name in front), matches its kit sentinel, and answers its status.
func TestKindsStatusesAndMessages(t *testing.T) {
	dial := &unixhttp.DialError{Socket: "/run/terok/gate.sock", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name   string
		err    error
		kind   error
		status int
		msg    string
	}{
		{"bad request", BadRequest("tail=%q: give a number of lines", "x"), unixhttp.ErrBadRequest, 400, `tail="x": give a number of lines`},
		{"not found", NotFound("no such task: %s", "abc234"), unixhttp.ErrNotFound, 404, "no such task: abc234"},
		{"conflict", Conflict("task %s is running", "abc234"), unixhttp.ErrConflict, 409, "task abc234 is running"},
		{"forbidden", Forbidden("no"), unixhttp.ErrForbidden, 403, "no"},
		{"unavailable", Unavailable("still starting"), unixhttp.ErrUnavailable, 503, "still starting"},
		{"wrapped again", fmt.Errorf("task abc234 failed to start: %w", Conflict("busy")), unixhttp.ErrConflict, 409, "task abc234 failed to start: busy"},
		{"a finer sentinel", fmt.Errorf("%w: image x is not there", errMissing), unixhttp.ErrBadRequest, 422, "image missing: image x is not there"},
		{"a sentinel as the kind", New(errMissing, "image x is not there"), unixhttp.ErrBadRequest, 422, "image x is not there"},
		{"cause kept", Because(unixhttp.ErrConflict, &unixhttp.APIError{Status: 500, Message: "boom"}, "plain words"), unixhttp.ErrConflict, 409, "plain words"},
		{"daemon down", Daemon("terok-gate", "mint a token", dial), unixhttp.ErrUnavailable, 503,
			"mint a token: terok-gate does not answer (terok daemons status shows why): " + dial.Error()},
		{"daemon broke the connection", Daemon("podman", "", &net.OpError{Op: "read", Net: "unix", Err: errors.New("reset")}), unixhttp.ErrUnavailable, 503,
			"podman does not answer (terok daemons status shows why): read unix: reset"},
		{"daemon refused", Daemon("terok-gate", "promote", &unixhttp.APIError{Status: 409, Message: "branch moved"}), unixhttp.ErrConflict, 409,
			"promote: terok-gate: branch moved (HTTP 409)"},
		{"daemon failed", Daemon("podman", "start", &unixhttp.APIError{Status: 500, Message: "hook failed"}), nil, 502,
			"start: podman: hook failed (HTTP 500)"},
		{"plain error", errors.New("disk full"), nil, 500, "disk full"},
		{"cancelled", Daemon("podman", "stop", context.Canceled), context.Canceled, 500, "stop: podman: context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.kind != nil && !errors.Is(tc.err, tc.kind) {
				t.Errorf("does not match %v", tc.kind)
			}
			if got := Status(tc.err); got != tc.status {
				t.Errorf("status %d, want %d", got, tc.status)
			}
			if got := tc.err.Error(); got != tc.msg {
				t.Errorf("message %q, want %q", got, tc.msg)
			}
		})
	}
}

// TestCausesStayReachable: a wrapped cause is found with errors.As
// through every wrapper.
func TestCausesStayReachable(t *testing.T) {
	ae := &unixhttp.APIError{Status: 502, Message: "upstream refused"}
	for _, err := range []error{
		Because(unixhttp.ErrUnavailable, ae, "the upstream of demo refused"),
		Daemon("podman", "start", ae),
		New(unixhttp.ErrConflict, "start: %w", ae),
	} {
		var got *unixhttp.APIError
		if !errors.As(err, &got) || got != ae {
			t.Errorf("%v: the daemon's answer is lost", err)
		}
		if strings.Contains(err.Error(), "conflict:") || strings.Contains(err.Error(), "unavailable:") {
			t.Errorf("%v: the kind's name is in the message", err)
		}
	}
}
