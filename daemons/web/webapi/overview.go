package webapi

import (
	"context"
	"net/http"
	"time"
)

// Overview is what needs the user, across projects (GET /api/v1/overview):
// branches waiting for review, the shield's open decisions, failed
// tasks of the last day not yet dismissed, and the running tasks.
type Overview struct {
	Review    []ReviewBranch `json:"review"`
	Decisions []Decision     `json:"decisions"`
	Failed    []Task         `json:"failed"`
	Running   []Task         `json:"running"`
	// Unknown names what could not be read (a daemon that does not
	// answer, a project without a gate repository yet is not one); the
	// rest is still shown.
	Unknown []string `json:"unknown,omitempty"`
}

// ReviewBranch is a branch of a project's gate repository that is ahead
// of the default branch: work to review and promote.
type ReviewBranch struct {
	Project string    `json:"project"`
	Branch  string    `json:"branch"`
	Head    string    `json:"head"`
	Subject string    `json:"subject,omitempty"`
	When    time.Time `json:"when,omitzero"`
	Ahead   int       `json:"ahead"`
	Behind  int       `json:"behind"`
	// Task is the task whose branch it is (agent/<task id>), when known.
	Task string `json:"task,omitempty"`
}

// Decision is a destination the shield refused to a running task and
// that no allow or deny has answered since: a blocked connection
// (Kind DecisionBlocked, Target an address) or a refused lookup (Kind
// DecisionLookup, Target a name).
type Decision struct {
	Task    string    `json:"task"`
	Project string    `json:"project"`
	Kind    string    `json:"kind"`
	Target  string    `json:"target"`
	Port    uint16    `json:"port,omitempty"`
	Proto   string    `json:"proto,omitempty"`
	Count   int       `json:"count"`
	Last    time.Time `json:"last"`
}

// Decision kinds: the shield's audit event kinds they come from.
const (
	DecisionBlocked = "blocked"
	DecisionLookup  = "lookup-refused"
)

// DismissRequest hides a failed task from the overview
// (POST /api/v1/overview/dismiss).
type DismissRequest struct {
	Task string `json:"task"`
}

// Overview is what waits for the user, across projects.
func (c *Client) Overview(ctx context.Context) (Overview, error) {
	var out Overview
	err := c.Do(ctx, http.MethodGet, "/overview", nil, &out)
	return out, err
}

// Dismiss hides failed task id from the overview.
func (c *Client) Dismiss(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/overview/dismiss", DismissRequest{Task: id}, nil)
}
