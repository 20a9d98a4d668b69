package ccconf

import (
	"fmt"

	"github.com/containers/common/pkg/config"
)

// Effective is the merged configuration, for the keys terok cares about.
type Effective struct {
	CgroupManager  string   `json:"cgroup_manager"`
	EventsLogger   string   `json:"events_logger"`
	Runtime        string   `json:"runtime"`
	HooksDirs      []string `json:"hooks_dirs"`
	DefaultUlimits []string `json:"default_ulimits"`
	NetworkCmd     string   `json:"default_rootless_network_cmd"`
}

// Loader reads the effective configuration.
type Loader interface {
	Load() (Effective, error)
}

// Containers reads containers.conf files the way Podman does for the
// current process's user and environment.
type Containers struct{}

// Load parses and validates every containers.conf Podman would read.
func (Containers) Load() (Effective, error) {
	c, err := config.New(nil)
	if err != nil {
		return Effective{}, fmt.Errorf("load containers.conf: %w", err)
	}
	return Effective{
		CgroupManager:  c.Engine.CgroupManager,
		EventsLogger:   c.Engine.EventsLogger,
		Runtime:        c.Engine.OCIRuntime,
		HooksDirs:      c.Engine.HooksDir.Get(),
		DefaultUlimits: c.Containers.DefaultUlimits.Get(),
		NetworkCmd:     c.Network.DefaultRootlessNetworkCmd,
	}, nil
}
