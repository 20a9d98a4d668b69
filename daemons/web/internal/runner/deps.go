package runner

import (
	"context"
	"io"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// Gate is what the runner needs of the gate (gateapi.Client).
type Gate interface {
	EnsureRepo(ctx context.Context, req gateapi.EnsureRepoRequest) (gateapi.Repo, bool, error)
	MintToken(ctx context.Context, project, task string) (gateapi.MintResponse, error)
	RevokeTask(ctx context.Context, project, task string) (int, error)
	Tokens(ctx context.Context, project string) ([]gateapi.Token, error)
}

// Podman is what the runner needs of Podman's API (podmanapi.Client).
type Podman interface {
	CreateContainer(ctx context.Context, spec podmanapi.CreateSpec) (podmanapi.CreateResult, error)
	StartContainer(ctx context.Context, id string) error
	WaitContainer(ctx context.Context, id string) (int, error)
	InspectContainer(ctx context.Context, id string) (podmanapi.Container, error)
	StopContainer(ctx context.Context, id string, timeoutSec uint) error
	RemoveContainer(ctx context.Context, id string, o podmanapi.RemoveOptions) error
	ListContainers(ctx context.Context, o podmanapi.ListOptions) ([]podmanapi.ContainerSummary, error)
	ContainerLogs(ctx context.Context, id string, o podmanapi.LogOptions, stdout, stderr io.Writer) error
	ImageExists(ctx context.Context, name string) (bool, error)
	RemoveVolume(ctx context.Context, name string, force bool) error
	RootlessNetwork(ctx context.Context) (string, error)
}

// Shield is what the runner needs of the shield (shieldapi.Client).
type Shield interface {
	Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error
	Status(ctx context.Context, id string) (shieldapi.Status, error)
}
