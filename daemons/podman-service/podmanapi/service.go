package podmanapi

import (
	"context"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// ServiceSocketName is the name of podman-service's own socket in the run
// directory: <run dir>/podman-service.sock (podman.sock is Podman's API).
const ServiceSocketName = paths.PodmanService

// StatusPath is podman-service's status endpoint.
const StatusPath = "/v1/status"

// ServiceStatus is the answer of GET /v1/status on podman-service.sock.
type ServiceStatus struct {
	State         string `json:"state"` // starting, ready, restarting, stopped
	PodmanSocket  string `json:"podman_socket"`
	ChildPID      int    `json:"child_pid,omitempty"`
	Restarts      int    `json:"restarts"`
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

// ServiceClient calls podman-service's own socket.
type ServiceClient struct {
	uc *unixhttp.Client
}

// NewServiceClient returns a client for podman-service.sock at socket.
func NewServiceClient(socket string) *ServiceClient {
	return &ServiceClient{uc: unixhttp.NewClient(socket)}
}

// Health asks GET /v1/health. Its Details carry "podman_version" and
// "api_answers"; a service whose Podman API does not answer is degraded
// and returns an error.
func (s *ServiceClient) Health(ctx context.Context) (health.Status, error) {
	return health.Check(ctx, s.uc)
}

// Status asks GET /v1/status.
func (s *ServiceClient) Status(ctx context.Context) (ServiceStatus, error) {
	var st ServiceStatus
	err := s.uc.Get(ctx, StatusPath, &st)
	return st, err
}
