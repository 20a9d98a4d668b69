package secrets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fakedaemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

type projects map[string]bool

func (p projects) Get(name string) (webapi.ProjectInfo, error) {
	if !p[name] {
		return webapi.ProjectInfo{}, fail.NotFound("no project %s: terok project add %s", name, name)
	}
	return webapi.ProjectInfo{}, nil
}

const value = "sk-ant-api03-VALUEvalue0123456789"

// TestSetRefusesWithoutRepeating: every refusal says what to do and
// never carries the value; the vault is not asked for a value it would
// refuse anyway or for a project that does not exist.
func TestSetRefusesWithoutRepeating(t *testing.T) {
	v := &fakedaemons.Vault{}
	s := New(v, projects{"demo": true})
	for _, tc := range []struct {
		name, provider, project, value string
		kind                           error
		want                           string
	}{
		{"empty", "anthropic", "", "", unixhttp.ErrBadRequest, "the value is empty"},
		{"too long", "anthropic", "", strings.Repeat("k", maxValue+1), unixhttp.ErrBadRequest, "give the key alone"},
		{"unknown project", "anthropic", "nope", value, unixhttp.ErrNotFound, "terok project add nope"},
		{"unknown provider", "nosuch", "", value, unixhttp.ErrNotFound, "no provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Set(context.Background(), tc.provider, tc.project, tc.value)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), value) {
				t.Fatalf("%v, want %v with %q and without the value", err, tc.kind, tc.want)
			}
		})
	}
	if len(v.Values) != 0 {
		t.Fatalf("the vault got %d values", len(v.Values))
	}
	if sec, err := s.Set(context.Background(), "anthropic", "demo", value); err != nil || sec.Fingerprint == "" || v.Value("anthropic", "demo") != value {
		t.Fatalf("set: %+v %v", sec, err)
	}
	if _, err := New(nil, nil).List(context.Background(), ""); !errors.Is(err, unixhttp.ErrUnavailable) || !strings.Contains(err.Error(), "start terok-vault") {
		t.Fatalf("no vault: %v", err)
	}
}
