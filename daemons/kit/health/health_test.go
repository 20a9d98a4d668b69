package health

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func serve(t *testing.T, p Probe) *unixhttp.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "h.sock")
	ln, err := unixhttp.Listen(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := unixhttp.NewServer(Handler("demo", "1.2.3", p), zerolog.Nop())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return unixhttp.NewClient(sock)
}

func TestHealthOK(t *testing.T) {
	c := serve(t, func(context.Context) (map[string]any, error) { return map[string]any{"repos": 3}, nil })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := Check(ctx, c)
	if err != nil || st.Name != "demo" || st.Status != "ok" || st.Version != "1.2.3" || st.PID == 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if st.Details["repos"].(float64) != 3 {
		t.Fatalf("details %v", st.Details)
	}
}

func TestHealthDegraded(t *testing.T) {
	c := serve(t, func(context.Context) (map[string]any, error) { return nil, errors.New("podman does not answer") })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := Check(ctx, c)
	if unixhttp.StatusOf(err) != 503 {
		t.Fatalf("want 503, got %v", err)
	}
}

// TestHealthDegradedKeepsTheProblem: a degraded answer comes back with
// its Status and an error whose message is the problem (not the body).
func TestHealthDegradedKeepsTheProblem(t *testing.T) {
	c := serve(t, func(context.Context) (map[string]any, error) {
		return map[string]any{"state": "blocked"}, errors.New("user namespaces cannot be created — fix: docker run --privileged")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := Check(ctx, c)
	if !Degraded(st, err) || !errors.Is(err, unixhttp.ErrUnavailable) || st.Name != "demo" || st.Details["state"] != "blocked" {
		t.Fatalf("%+v %v", st, err)
	}
	if got, want := unixhttp.Message(err), "user namespaces cannot be created — fix: docker run --privileged"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}
