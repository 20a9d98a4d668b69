package tasks

import (
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Record is one task as task.json keeps it. It is the disk format, not
// the wire's: webapi.Task is what the API shows (Wire), and fields such
// as LogOffset never leave terok-web.
type Record struct {
	ID        string     `json:"id"`
	Project   string     `json:"project"`
	Mode      string     `json:"mode"`
	State     string     `json:"state"`
	ExitCode  *int       `json:"exit_code"`
	Reason    string     `json:"reason,omitempty"`
	Prompt    string     `json:"prompt,omitempty"`
	Command   string     `json:"command"`
	Image     string     `json:"image"`
	Container string     `json:"container,omitempty"`
	Name      string     `json:"container_name"`
	Volume    string     `json:"volume"`
	GateURL   string     `json:"gate_url,omitempty"`
	Runs      int        `json:"runs"`
	Created   time.Time  `json:"created"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	WebPort   int        `json:"web_port,omitempty"`
	Waiting   string     `json:"waiting,omitempty"`
	// StartMS is how long the last start's steps took (webapi.Task).
	StartMS  map[string]float64 `json:"start_ms,omitempty"`
	Branches []string           `json:"branches,omitempty"`
	// Agent is the recipe the task runs; ImageID the image its last run
	// started from.
	Agent   string `json:"agent,omitempty"`
	ImageID string `json:"image_id,omitempty"`
	// LogOffset is where the current run's output starts in the log
	// file: a monitor that follows the run again rewrites from there.
	LogOffset int64 `json:"log_offset,omitempty"`
	// Phantoms is how many phantom credentials the vault minted for the
	// current run (none: nothing to revoke is missed when the vault is
	// down).
	Phantoms int `json:"phantoms,omitempty"`
}

// Done reports whether the task's state is final (exited, failed,
// stopped).
func (r Record) Done() bool { return webapi.Ended(r.State) }

// Wire is the record as the API shows it (without a web task's UI
// address, which depends on who asks).
func (r Record) Wire() webapi.Task {
	return webapi.Task{
		ID: r.ID, Project: r.Project, Mode: r.Mode, State: r.State, ExitCode: r.ExitCode,
		Reason: r.Reason, Prompt: r.Prompt, Command: r.Command, Image: r.Image,
		Container: r.Container, Name: r.Name, Volume: r.Volume, GateURL: r.GateURL, Runs: r.Runs,
		Created: r.Created, Started: r.Started, Ended: r.Ended, WebPort: r.WebPort,
		Waiting: r.Waiting, StartMS: r.StartMS, Branches: r.Branches, Agent: r.Agent, ImageID: r.ImageID,
	}
}

// Entry is one line of timeline.jsonl (webapi.Entry on the wire).
type Entry struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // webapi.EntryState, EntryPush, ...
	State    string    `json:"state,omitempty"`
	ExitCode *int      `json:"exit_code,omitempty"`
	Ref      string    `json:"ref,omitempty"`
	Old      string    `json:"old,omitempty"`
	New      string    `json:"new,omitempty"`
	Commits  int       `json:"commits,omitempty"`
	Event    string    `json:"event,omitempty"`
	Target   string    `json:"target,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// Wire is the entry as the API shows it.
func (e Entry) Wire() webapi.Entry {
	return webapi.Entry{Seq: e.Seq, Time: e.Time, Kind: e.Kind, State: e.State, ExitCode: e.ExitCode,
		Ref: e.Ref, Old: e.Old, New: e.New, Commits: e.Commits, Event: e.Event, Target: e.Target, Detail: e.Detail}
}
