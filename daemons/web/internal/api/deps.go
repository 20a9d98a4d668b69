package api

import (
	"context"
	"io"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

// Gate is what the API needs of the gate (gateapi.Client).
type Gate interface {
	Repo(ctx context.Context, name string) (gateapi.RepoDetail, error)
	Log(ctx context.Context, name, branch string, limit int) ([]gateapi.Commit, error)
	Sync(ctx context.Context, name string) (gateapi.SyncResult, error)
	Promote(ctx context.Context, name string, req gateapi.PromoteRequest) (gateapi.PromoteResult, error)
	Diff(ctx context.Context, repo, base, head string) (gateapi.Diff, error)
}

// Shield is what the API needs of the shield (shieldapi.Client).
type Shield interface {
	Status(ctx context.Context, id string) (shieldapi.Status, error)
	Allow(ctx context.Context, id, target, forDur string) (shieldapi.Status, error)
	Deny(ctx context.Context, id, target string) (shieldapi.Status, error)
	SetMode(ctx context.Context, id string, m shieldapi.Mode) (shieldapi.Status, error)
	Panic(ctx context.Context) (shieldapi.PanicResult, error)
	Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error
	Profiles(ctx context.Context) ([]shieldapi.Profile, error)
}

// Images is what the API needs of Podman for images.
type Images interface {
	ListImages(ctx context.Context) ([]podmanapi.Image, error)
	ImportImage(ctx context.Context, ref string, tarball io.Reader) (string, error)
	RemoveImage(ctx context.Context, name string, force bool) error
}

// Supervisor is what the API needs of terok-supervisord.
type Supervisor interface {
	AllProcessInfo(ctx context.Context) ([]supervisorapi.ProcessInfo, error)
	Start(ctx context.Context, name string, wait bool) error
	Stop(ctx context.Context, name string, wait bool) error
	ReadStdout(ctx context.Context, name string, n int) (string, error)
}
