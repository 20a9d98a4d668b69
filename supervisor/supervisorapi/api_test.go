package supervisorapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// TestUnusableSocket: a client made for no socket answers every call with
// a bad-request error that names the problem, instead of a nil pointer.
func TestUnusableSocket(t *testing.T) {
	c := New("")
	_, err := c.Health(context.Background())
	if !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), "names no socket path") {
		t.Fatalf("want ErrBadRequest naming the missing path, got %v", err)
	}
	if _, err := c.AllProcessInfo(context.Background()); !errors.Is(err, unixhttp.ErrBadRequest) {
		t.Fatalf("want ErrBadRequest, got %v", err)
	}
}
