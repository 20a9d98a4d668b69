package serviceapi

import (
	"context"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// SocketName is the name of podman-service's own socket in the run
// directory: <run dir>/podman-service.sock (podman.sock is Podman's API).
const SocketName = paths.PodmanService

// StatusPath is podman-service's status endpoint.
const StatusPath = "/v1/status"

// Status is the answer of GET /v1/status on podman-service.sock.
type Status struct {
	State        string `json:"state"` // starting, ready, restarting, stopped
	PodmanSocket string `json:"podman_socket"`
	ChildPID     int    `json:"child_pid,omitempty"`
	Restarts     int    `json:"restarts"`
	// PauseResets counts the `podman system migrate` runs podman-service
	// made after rootless Podman's pause process was lost.
	PauseResets   int    `json:"pause_resets"`
	APIAnswers    bool   `json:"api_answers"`
	PodmanVersion string `json:"podman_version,omitempty"`
	APIVersion    string `json:"api_version,omitempty"`
	StorageDriver string `json:"storage_driver,omitempty"`
	Runtime       string `json:"runtime,omitempty"`
	CgroupManager string `json:"cgroup_manager,omitempty"`
	Containers    int    `json:"containers"`
	Images        int    `json:"images"`
	HooksDir      string `json:"hooks_dir,omitempty"`
	LastError     string `json:"last_error,omitempty"`
}

// Client calls podman-service's own socket.
type Client struct {
	uc *unixhttp.Client
}

// New returns a client for podman-service.sock at socket.
func New(socket string, opts ...unixhttp.ClientOption) *Client {
	return &Client{uc: unixhttp.NewClient(socket, opts...)}
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.uc.Socket() }

// Health asks GET /v1/health. Its Details carry "podman_version" and
// "api_answers"; a service whose Podman API does not answer is degraded
// and returns an error matching unixhttp.ErrUnavailable (HTTP 503).
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	return health.Check(ctx, c.uc)
}

// Status asks GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.uc.Get(ctx, StatusPath, &st)
	return st, err
}
