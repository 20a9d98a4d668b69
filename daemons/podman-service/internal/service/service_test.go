package service

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/child"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/serviceapi"
)

// serve serves h on a socket in dir until the test ends.
func serve(t *testing.T, dir string, h *Handler) string {
	t.Helper()
	sock := filepath.Join(dir, "podman-service.sock")
	ln, err := unixhttp.Listen(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := unixhttp.NewServer(h, zerolog.Nop())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return sock
}

type fixed child.Snapshot

func (f fixed) Snapshot() child.Snapshot { return child.Snapshot(f) }

// TestDegradedWhenPodmanDown: with nobody on podman.sock, health is 503
// with api_answers false, and status still answers with the last error.
func TestDegradedWhenPodmanDown(t *testing.T) {
	dir := t.TempDir()
	h := New(fixed{State: child.Restarting, Restarts: 2, LastError: "podman exited"}, podmanapi.New(filepath.Join(dir, "podman.sock")), "/hooks")
	sock := serve(t, dir, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := serviceapi.New(sock)
	_, err := c.Health(ctx)
	if unixhttp.StatusOf(err) != http.StatusServiceUnavailable || !errors.Is(err, unixhttp.ErrUnavailable) || !strings.Contains(err.Error(), ErrAPIDown.Error()) {
		t.Fatalf("want 503, got %v", err)
	}
	var ae *unixhttp.APIError
	if err := unixhttp.NewClient(sock).Get(ctx, "/v1/nope", nil); !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(ae.Message, "no such route: GET /v1/nope") {
		t.Fatalf("unknown route: %v, want a JSON 404 naming it", err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.APIAnswers || st.Restarts != 2 || st.State != child.Restarting || st.LastError != "podman exited" || st.HooksDir != "/hooks" {
		t.Fatalf("status: %+v %v", st, err)
	}
}

// TestBlockedSaysWhy: a podman-service that runs no Podman (no user
// namespaces) answers health degraded with the problem and its fix.
func TestBlockedSaysWhy(t *testing.T) {
	dir := t.TempDir()
	h := New(fixed{State: Blocked}, podmanapi.New(filepath.Join(dir, "podman.sock")), "/hooks")
	h.Block("user namespaces cannot be created in this container — fix: start the container again with docker run --privileged")
	sock := serve(t, dir, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := serviceapi.New(sock)
	hs, err := c.Health(ctx)
	if unixhttp.StatusOf(err) != http.StatusServiceUnavailable || hs.Problem == "" || !strings.Contains(unixhttp.Message(err), "docker run --privileged") {
		t.Fatalf("health: %+v %v", hs, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.State != Blocked || !strings.Contains(st.LastError, "user namespaces cannot be created") {
		t.Fatalf("status: %+v %v", st, err)
	}
}
