package podmanapi

import "time"

// Version is the answer of GET /libpod/version (the fields terok uses).
type Version struct {
	Version       string `json:"Version"`
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion"`
	GoVersion     string `json:"GoVersion"`
	Os            string `json:"Os"`
	Arch          string `json:"Arch"`
	KernelVersion string `json:"KernelVersion"`
}

// Info is the answer of GET /libpod/info (the fields terok uses).
type Info struct {
	Host    HostInfo    `json:"host"`
	Store   StoreInfo   `json:"store"`
	Version InfoVersion `json:"version"`
}

// HostInfo describes the machine Podman runs on.
type HostInfo struct {
	CgroupManager string     `json:"cgroupManager"`
	CgroupVersion string     `json:"cgroupVersion"`
	EventLogger   string     `json:"eventLogger"`
	OCIRuntime    OCIRuntime `json:"ociRuntime"`
	Security      struct {
		Rootless bool `json:"rootless"`
	} `json:"security"`
	Kernel string `json:"kernel"`
}

// OCIRuntime names the runtime Podman uses.
type OCIRuntime struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Version string `json:"version"`
}

// StoreInfo describes container storage.
type StoreInfo struct {
	GraphDriverName string `json:"graphDriverName"`
	GraphRoot       string `json:"graphRoot"`
	RunRoot         string `json:"runRoot"`
	ContainerStore  struct {
		Number int `json:"number"`
	} `json:"containerStore"`
	ImageStore struct {
		Number int `json:"number"`
	} `json:"imageStore"`
}

// InfoVersion is the version block of Info.
type InfoVersion struct {
	Version    string `json:"Version"`
	APIVersion string `json:"APIVersion"`
}

// Image is one entry of GET /libpod/images/json.
type Image struct {
	ID       string            `json:"Id"`
	RepoTags []string          `json:"RepoTags"`
	Created  int64             `json:"Created"`
	Size     int64             `json:"Size"`
	Labels   map[string]string `json:"Labels"`
}

// Mount is an OCI bind or tmpfs mount of a container.
type Mount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"` // "bind" (default when Source is set) or "tmpfs"
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"` // e.g. "rbind", "ro", "z"
}

// Volume attaches a named Podman volume (created on demand) at Dest.
type Volume struct {
	Name    string   `json:"Name"`
	Dest    string   `json:"Dest"`
	Options []string `json:"Options,omitempty"`
}

// Namespace selects a namespace mode, e.g. {"nsmode": "slirp4netns"},
// {"nsmode": "pasta"}, {"nsmode": "none"}, {"nsmode": "keep-id"}.
type Namespace struct {
	Mode  string `json:"nsmode,omitempty"`
	Value string `json:"value,omitempty"`
}

// PortMapping publishes a container port on the host.
type PortMapping struct {
	HostIP        string `json:"host_ip,omitempty"`
	ContainerPort uint16 `json:"container_port"`
	HostPort      uint16 `json:"host_port,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
}

// Ulimit is one resource limit, e.g. {"nofile", 1024, 1024}: Type is the
// lower-case name without RLIMIT_ (Podman adds the prefix).
type Ulimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

// CreateSpec is the body of POST /libpod/containers/create (a subset of
// Podman's SpecGenerator, with its wire names).
type CreateSpec struct {
	Name        string            `json:"name,omitempty"`
	Image       string            `json:"image"`
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	Command     []string          `json:"command,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	WorkDir     string            `json:"work_dir,omitempty"`
	User        string            `json:"user,omitempty"`
	Terminal    bool              `json:"terminal,omitempty"`
	Stdin       bool              `json:"stdin,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Mounts      []Mount           `json:"mounts,omitempty"`
	Volumes     []Volume          `json:"volumes,omitempty"`
	NetNS       *Namespace        `json:"netns,omitempty"`
	// NetworkOptions are per-network-mode options, e.g.
	// {"slirp4netns": ["allow_host_loopback=true"]}.
	NetworkOptions map[string][]string `json:"network_options,omitempty"`
	UserNS         *Namespace          `json:"userns,omitempty"`
	PortMapping    []PortMapping       `json:"portmappings,omitempty"`
	HostAdd        []string            `json:"hostadd,omitempty"` // "name:ip"
	Ulimits        []Ulimit            `json:"r_limits,omitempty"`
	// CapDrop and CapAdd change the container's capabilities: "ALL" in
	// CapDrop starts from none, then CapAdd's are given (names like
	// "CHOWN", without CAP_).
	CapDrop []string `json:"cap_drop,omitempty"`
	CapAdd  []string `json:"cap_add,omitempty"`
	// Sysctl sets namespaced kernel settings in the container, e.g.
	// {"net.ipv4.ip_unprivileged_port_start": "1024"}.
	Sysctl      map[string]string `json:"sysctl,omitempty"`
	NoNewPrivs  bool              `json:"no_new_privileges,omitempty"`
	StopTimeout *uint             `json:"stop_timeout,omitempty"`
	Remove      bool              `json:"remove,omitempty"`
	// ResourceLimits caps memory, CPU and process count (an OCI
	// LinuxResources subset). Rootless Podman on cgroup v1 ignores them
	// with a warning in CreateResult.Warnings.
	ResourceLimits *Resources `json:"resource_limits,omitempty"`
	// DNSServers replaces the container's resolvers.
	DNSServers []string `json:"dns_server,omitempty"`
}

// Resources is the subset of OCI LinuxResources terok sets.
type Resources struct {
	Memory *MemoryLimit `json:"memory,omitempty"`
	CPU    *CPULimit    `json:"cpu,omitempty"`
	Pids   *PidsLimit   `json:"pids,omitempty"`
}

// MemoryLimit caps memory in bytes.
type MemoryLimit struct {
	Limit *int64 `json:"limit,omitempty"`
}

// CPULimit caps CPU time: Quota microseconds per Period microseconds
// (1.5 CPUs: quota 150000, period 100000).
type CPULimit struct {
	Quota  *int64  `json:"quota,omitempty"`
	Period *uint64 `json:"period,omitempty"`
}

// PidsLimit caps the number of processes.
type PidsLimit struct {
	Limit int64 `json:"limit"`
}

// CreateResult is the answer of a container create.
type CreateResult struct {
	ID       string   `json:"Id"`
	Warnings []string `json:"Warnings"`
}

// ContainerState is the State block of a container inspect.
type ContainerState struct {
	Status     string    `json:"Status"` // created, running, exited, ...
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	OOMKilled  bool      `json:"OOMKilled"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
}

// ContainerConfig is the Config block of a container inspect.
type ContainerConfig struct {
	Env         []string          `json:"Env"`
	Cmd         []string          `json:"Cmd"`
	Labels      map[string]string `json:"Labels"`
	Annotations map[string]string `json:"Annotations"`
	Tty         bool              `json:"Tty"`
	User        string            `json:"User"`
	WorkingDir  string            `json:"WorkingDir"`
}

// InspectMount is one mount reported by a container inspect.
type InspectMount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	RW          bool   `json:"RW"`
}

// Container is the answer of GET /libpod/containers/{id}/json.
type Container struct {
	ID        string          `json:"Id"`
	Name      string          `json:"Name"`
	Image     string          `json:"Image"`
	ImageName string          `json:"ImageName"`
	Created   time.Time       `json:"Created"`
	State     ContainerState  `json:"State"`
	Config    ContainerConfig `json:"Config"`
	Mounts    []InspectMount  `json:"Mounts"`
	HostsPath string          `json:"HostsPath"`
}

// ContainerSummary is one entry of GET /libpod/containers/json.
type ContainerSummary struct {
	ID       string            `json:"Id"`
	Names    []string          `json:"Names"`
	Image    string            `json:"Image"`
	State    string            `json:"State"`
	Labels   map[string]string `json:"Labels"`
	ExitCode int               `json:"ExitCode"`
	Exited   bool              `json:"Exited"`
	Pid      int               `json:"Pid"`
	Created  time.Time         `json:"Created"`
}

// ImageDetails is the answer of GET /libpod/images/{name}/json (the
// fields terok uses).
type ImageDetails struct {
	ID       string            `json:"Id"`
	RepoTags []string          `json:"RepoTags"`
	Created  time.Time         `json:"Created"`
	Size     int64             `json:"Size"`
	Labels   map[string]string `json:"Labels"`
	Parent   string            `json:"Parent"`
	Config   ImageConfig       `json:"Config"`
}

// ImageConfig is the Config block of an image inspect.
type ImageConfig struct {
	Env        []string          `json:"Env"`
	Cmd        []string          `json:"Cmd"`
	Entrypoint []string          `json:"Entrypoint"`
	WorkingDir string            `json:"WorkingDir"`
	User       string            `json:"User"`
	Labels     map[string]string `json:"Labels"`
}

// ImageLayer is one entry of GET /libpod/images/{name}/history (the
// Docker-compatible shape Podman answers there too).
type ImageLayer struct {
	ID        string   `json:"Id"`
	Created   int64    `json:"Created"` // Unix seconds
	CreatedBy string   `json:"CreatedBy"`
	Tags      []string `json:"Tags"`
	Size      int64    `json:"Size"`
	Comment   string   `json:"Comment"`
}
