package webapi

import (
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// Security classes of a project: how its gate repository talks upstream.
const (
	ClassGatekeeping = "gatekeeping" // pushes stay in the gate until promoted
	ClassOnline      = "online"      // the gate forwards pushes upstream
)

// Task modes.
const (
	ModeHeadless    = "headless"    // run the agent command to completion
	ModeInteractive = "interactive" // a long-lived container to attach to
	ModeWeb         = "web"         // the agent serves on run.web_port
)

// Task states.
const (
	StateCreated  = "created"
	StateStarting = "starting"
	StateRunning  = "running"
	StateExited   = "exited"
	StateFailed   = "failed"
	StateStopped  = "stopped"
)

// Ended reports whether state is final (exited, failed or stopped).
func Ended(state string) bool {
	return state == StateExited || state == StateFailed || state == StateStopped
}

// Project is a project as the API shows and takes it (project.yml on
// disk holds the same fields and keys this version does not know).
type Project struct {
	Name          string `json:"name"`
	SecurityClass string `json:"security_class,omitempty"`
	Git           Git    `json:"git"`
	Image         string `json:"image,omitempty"`
	Agent         Agent  `json:"agent"`
	Shield        Shield `json:"shield"`
	Run           Run    `json:"run"`
	Limits        Limits `json:"limits"`
	// Build is the project's build: section (nil: none; its tasks run
	// Image as it is).
	Build *Build `json:"build,omitempty"`
}

// Build is a project's build: section: the agents layer and the project
// layer built on its image (docs/images.md).
type Build struct {
	Agents       []string `json:"agents,omitempty"`
	DefaultAgent string   `json:"default_agent,omitempty"`
	Snippet      string   `json:"snippet,omitempty"`
	SnippetFile  string   `json:"snippet_file,omitempty"`
	HostCA       string   `json:"host_ca,omitempty"`
}

// Git is a project's repository: its upstream (none: a local-only
// repository in the gate) and default branch.
type Git struct {
	UpstreamURL   string `json:"upstream_url,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`
}

// Agent is what a task runs: Command with sh -c in /workspace, the prompt
// in $TEROK_PROMPT and on stdin.
type Agent struct {
	Command string            `json:"command,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// Providers are the model providers whose credentials the vault
	// lends the task as phantoms (docs/credentials.md).
	Providers []string `json:"providers,omitempty"`
}

// SecretRequest is the body of PUT /api/v1/secrets/{provider}: the
// value goes to the vault and is never answered, logged or kept.
type SecretRequest struct {
	Value string `json:"value"`
}

// LoginRequest is the body of POST /api/v1/secrets/{provider}/login:
// the flow ("device" or "refresh-token") and, for the latter, the
// refresh token, which goes to the vault and is never answered, logged
// or kept.
type LoginRequest struct {
	Flow         string `json:"flow"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// SecretRemoved answers DELETE /api/v1/secrets/{provider}.
type SecretRemoved struct {
	Removed vaultapi.Secret `json:"removed"`
}

// HiddenValue stands for an agent.env value in a project shown to a
// browser session; sent back unchanged, it keeps the stored value.
const HiddenValue = "<hidden>"

// Shield is a project's egress policy. Enabled defaults to true.
type Shield struct {
	Enabled  *bool    `json:"enabled,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
	Allow    []string `json:"allow,omitempty"`
}

// Run holds run-time settings: where a web-mode agent listens.
type Run struct {
	WebPort int `json:"web_port,omitempty"`
}

// Limits are a task container's resources: Memory like "2g" or "512m",
// CPUs like 1.5, Pids a count. Zero means no limit.
type Limits struct {
	Memory string  `json:"memory,omitempty"`
	CPUs   float64 `json:"cpus,omitempty"`
	Pids   int64   `json:"pids,omitempty"`
}

// ProjectInfo is a project as the API shows it: the file's content, the
// file's path and what loading it reported.
type ProjectInfo struct {
	Project
	File     string   `json:"file"`
	Warnings []string `json:"warnings,omitempty"`
}

// Task is one task record.
type Task struct {
	ID        string     `json:"id"`
	Project   string     `json:"project"`
	Mode      string     `json:"mode"`
	State     string     `json:"state"`
	ExitCode  *int       `json:"exit_code"`
	Reason    string     `json:"reason,omitempty"` // why it failed, what to do
	Prompt    string     `json:"prompt,omitempty"`
	Command   string     `json:"command"`
	Image     string     `json:"image"`
	Container string     `json:"container,omitempty"` // Podman's container id
	Name      string     `json:"container_name"`
	Volume    string     `json:"volume"`
	GateURL   string     `json:"gate_url,omitempty"` // as the task sees it, token hidden
	Runs      int        `json:"runs"`               // 1 + follow-ups and restarts
	Created   time.Time  `json:"created"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	WebPort   int        `json:"web_port,omitempty"` // host port of a web-mode task
	// Waiting says what a starting task waits for (its image, still
	// being imported), empty otherwise.
	Waiting string `json:"waiting,omitempty"`
	// WebURL is a running web task's UI address, for the caller's host
	// (terok's UI gives a one-time link to it: POST .../web/ticket).
	WebURL string `json:"web_url,omitempty"`
	// StartMS is how long the last start's steps took, in milliseconds:
	// gate (repository and token), create, start (the shield's arm
	// included), shield_arm (the arm alone, as the shield measured it).
	StartMS map[string]float64 `json:"start_ms,omitempty"`
	// Branches lists the branches the task pushed to the gate.
	Branches []string `json:"branches,omitempty"`
	// Agent is the recipe the task runs (empty: the project's command).
	Agent string `json:"agent,omitempty"`
	// ImageID is the image the last run started from.
	ImageID string `json:"image_id,omitempty"`
	// ImageStale says why the task's image is older than its project's
	// current one (empty when it is not, or not known).
	ImageStale string `json:"image_stale,omitempty"`
}

// WebTicket is a one-time link to a web task's UI (POST
// /api/v1/tasks/{id}/web/ticket): it opens the UI once, until Expires.
type WebTicket struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// RunRequest starts a task (POST /api/v1/tasks).
type RunRequest struct {
	Project string `json:"project"`
	Mode    string `json:"mode,omitempty"`    // default headless
	Prompt  string `json:"prompt,omitempty"`  // $TEROK_PROMPT and stdin
	Command string `json:"command,omitempty"` // overrides agent.command
	// Agent runs that recipe of the project's build.agents (default: the
	// project's build.default_agent when it has no agent.command).
	Agent string `json:"agent,omitempty"`
	// Build builds the project's image first when it is missing or stale
	// (else such a start is refused).
	Build bool `json:"build,omitempty"`
}

// FollowupRequest runs a task again in its workspace with a new prompt.
type FollowupRequest struct {
	Prompt  string `json:"prompt"`
	Command string `json:"command,omitempty"`
}

// Timeline entry kinds.
const (
	EntryState   = "state"  // a state change: State, ExitCode, Detail
	EntryPush    = "push"   // the gate received a push from the task's token
	EntryShield  = "shield" // a shield event: blocked, allow, deny, mode
	EntryNote    = "note"   // anything else worth keeping (reconcile, token)
	EntryPromote = "promote"
)

// Entry is one line of a task's timeline.
type Entry struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	State    string    `json:"state,omitempty"`
	ExitCode *int      `json:"exit_code,omitempty"`
	Ref      string    `json:"ref,omitempty"`
	Old      string    `json:"old,omitempty"`
	New      string    `json:"new,omitempty"`
	Commits  int       `json:"commits,omitempty"`
	Event    string    `json:"event,omitempty"`  // shield event kind
	Target   string    `json:"target,omitempty"` // shield target or destination
	Detail   string    `json:"detail,omitempty"`
}

// Event is one message of the /api/v1/events WebSocket.
type Event struct {
	Type   string  `json:"type"` // task, log, timeline, shield, daemon
	TaskID string  `json:"task,omitempty"`
	Task   *Task   `json:"task_state,omitempty"`
	Line   string  `json:"line,omitempty"`
	Entry  *Entry  `json:"entry,omitempty"`
	Daemon *Daemon `json:"daemon,omitempty"`
	// Logs answers a Subscribe (type "subscribed"): the ids now followed.
	Logs []string `json:"logs,omitempty"`
	// Build is a step of a project's build (type "build"): every event
	// but the output lines, which only the build's own stream carries.
	Build *BuildEvent `json:"build,omitempty"`
}

// Event types.
const (
	EventTask     = "task"
	EventLog      = "log"
	EventTimeline = "timeline"
	EventDaemon   = "daemon"
	EventBuild    = "build"
	// EventSubscribed acknowledges a Subscribe: log lines of those tasks
	// follow from here on.
	EventSubscribed = "subscribed"
)

// Subscribe is what a WebSocket client sends to receive a task's log lines.
type Subscribe struct {
	Logs []string `json:"logs"` // task ids; "*" for every task
}

// Daemon is one supervisor program's state.
type Daemon struct {
	Name        string `json:"name"`
	State       string `json:"state"`
	PID         int    `json:"pid,omitempty"`
	Description string `json:"description,omitempty"`
	ExitStatus  int    `json:"exit_status,omitempty"`
	// Problem is what a running daemon's health check says it cannot do
	// (degraded), with the fix; empty when it is fine.
	Problem string `json:"problem,omitempty"`
}

// GateInfo is a project's gate repository as terok-web shows it.
type GateInfo struct {
	Project       string   `json:"project"`
	CloneURL      string   `json:"clone_url"` // for the host, admin token not included
	Upstream      string   `json:"upstream,omitempty"`
	DefaultBranch string   `json:"default_branch"`
	Branches      []Branch `json:"branches"`
}

// Branch is a gate branch with ahead/behind against the default branch.
type Branch struct {
	Name    string    `json:"name"`
	Head    string    `json:"head"`
	Subject string    `json:"subject,omitempty"`
	When    time.Time `json:"when"`
	Ahead   *int      `json:"ahead,omitempty"`
	Behind  *int      `json:"behind,omitempty"`
}

// AllowRequest allows a destination for a task, optionally for a while.
type AllowRequest struct {
	Target string `json:"target"`
	For    string `json:"for,omitempty"` // Go duration, e.g. 10m
	// Project also adds Target to the task's project's allowlist
	// (shield.allow in project.yml), for the project's future tasks.
	Project bool `json:"project,omitempty"`
}

// ModeRequest sets a task's shield mode: up, down or block.
type ModeRequest struct {
	Mode string `json:"mode"`
}

// PromoteRequest promotes a gate branch upstream. Expect is the commit
// the reviewer saw at the branch's head: when the branch has moved since,
// the gate refuses (409 naming the new head) and nothing is pushed.
type PromoteRequest struct {
	Branch string `json:"branch"`
	Target string `json:"target,omitempty"`
	Force  bool   `json:"force,omitempty"`
	Expect string `json:"expect,omitempty"`
}

// Image is one local image.
type Image struct {
	ID      string   `json:"id"`
	Names   []string `json:"names"`
	Size    int64    `json:"size"`
	Created int64    `json:"created"`
}

// Image states of a project (ImageStatus.State).
const (
	ImageNone    = "none"    // no build: section: tasks run the base image
	ImageMissing = "missing" // never built (or removed)
	ImageStale   = "stale"   // built, but the recipes, snippet or base changed since
	ImageCurrent = "current" // built from what project.yml says now
)

// ImageStatus is a project's image: what its tasks run and whether it
// must be built first (GET /api/v1/projects/{name}/image).
type ImageStatus struct {
	Project string `json:"project"`
	// Image is what the project's tasks run: its built image, or its base.
	Image   string `json:"image"`
	ImageID string `json:"image_id,omitempty"`
	State   string `json:"state"`
	// Reason says what is missing or changed, with the fix.
	Reason string `json:"reason,omitempty"`
	// Agents are the project's build.agents; Versions those installed.
	Agents   []string          `json:"agents,omitempty"`
	Versions map[string]string `json:"versions,omitempty"`
	// Building is set while a build of the project runs.
	Building bool `json:"building,omitempty"`
}

// Build modes (POST /api/v1/projects/{name}/build?mode=).
const (
	BuildReuse         = "reuse"          // reuse every unchanged layer (default)
	BuildRefreshAgents = "refresh-agents" // resolve the agents' versions anew
	BuildFull          = "full"           // build every layer without cache
)

// Build event kinds besides the builder's own (layer, reused, step,
// step-done, output, built, failed, resolved): the last line of a build
// stream is done (Result) or error (Error).
const (
	BuildDone  = "done"
	BuildError = "error"
)

// BuildEvent is one line of a build's progress stream.
type BuildEvent struct {
	Kind    string `json:"kind"`
	Project string `json:"project"`
	Layer   string `json:"layer,omitempty"`
	Ref     string `json:"ref,omitempty"`
	Hash    string `json:"hash,omitempty"`
	ImageID string `json:"image_id,omitempty"`
	Step    int    `json:"step,omitempty"`
	Steps   int    `json:"steps,omitempty"`
	Text    string `json:"text,omitempty"`
	Line    string `json:"line,omitempty"`
	Cached  bool   `json:"cached,omitempty"`
	// Seconds is a step's or a layer's duration.
	Seconds float64  `json:"seconds,omitempty"`
	Agent   string   `json:"agent,omitempty"`
	Version string   `json:"version,omitempty"`
	Lines   []string `json:"lines,omitempty"`
	Error   string   `json:"error,omitempty"`
	// Result is the finished build (kind done).
	Result *BuildResult `json:"result,omitempty"`
}

// BuildResult is a finished build: the image the project's tasks run.
type BuildResult struct {
	Image    string            `json:"image"`
	ImageID  string            `json:"image_id"`
	Layers   []BuildLayer      `json:"layers"`
	Versions map[string]string `json:"versions,omitempty"`
}

// BuildLayer is one layer of a finished build.
type BuildLayer struct {
	Name    string  `json:"name"`
	Ref     string  `json:"ref"`
	ImageID string  `json:"image_id"`
	Reused  bool    `json:"reused"`
	Seconds float64 `json:"seconds,omitempty"`
}

// AgentRecipe is an agent recipe as terok agents list shows it.
type AgentRecipe struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Package     string `json:"package,omitempty"`
	Version     string `json:"version,omitempty"`
	// Source is "shipped" or the user's file; Shadows is set on a user
	// file that replaces a shipped recipe.
	Source    string   `json:"source"`
	Shadows   bool     `json:"shadows,omitempty"`
	Providers []string `json:"providers,omitempty"`
	Egress    []string `json:"egress,omitempty"`
	// Error is why the recipe does not load (file:line, field, fix).
	Error string `json:"error,omitempty"`
}
