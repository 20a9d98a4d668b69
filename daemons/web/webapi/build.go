package webapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
)

// ProjectImage tells what a project's tasks run and whether its image
// must be built first.
func (c *Client) ProjectImage(ctx context.Context, project string) (ImageStatus, error) {
	var out ImageStatus
	err := c.Do(ctx, http.MethodGet, "/projects/"+esc(project)+"/image", nil, &out)
	return out, err
}

// Agents lists the agent recipes (shipped and the user's).
func (c *Client) Agents(ctx context.Context) ([]AgentRecipe, error) {
	var out []AgentRecipe
	err := c.Do(ctx, http.MethodGet, "/agents", nil, &out)
	return out, err
}

// BuildFailed is the error a build stream ends with: the build's own
// message (the failing layer and step with its last lines, or what
// stopped it), the project's image unchanged.
type BuildFailed struct {
	Project string
	Message string
}

func (e *BuildFailed) Error() string { return e.Message }

// Build builds a project's image (mode: BuildReuse, BuildRefreshAgents,
// BuildFull; "" for the default) and yields its progress as it comes.
// The last event is BuildDone with the result; a failed build ends with
// a *BuildFailed error instead, and a refusal before the build (no such
// project, nothing to build) with the API's error.
func (c *Client) Build(ctx context.Context, project, mode string) iter.Seq2[BuildEvent, error] {
	q := url.Values{}
	if mode != "" {
		q.Set("mode", mode)
	}
	return func(yield func(BuildEvent, error) bool) {
		body, err := c.c.Stream(ctx, http.MethodPost, prefix+"/projects/"+esc(project)+"/build?"+q.Encode(), nil)
		if err != nil {
			yield(BuildEvent{}, err)
			return
		}
		defer body.Close()
		dec := json.NewDecoder(body)
		for {
			var ev BuildEvent
			if err := dec.Decode(&ev); err != nil {
				if ctx.Err() != nil {
					yield(BuildEvent{}, ctx.Err())
				} else if err == io.EOF {
					yield(BuildEvent{}, fmt.Errorf("the build of %s ended without a result (terok-web stopped?): terok project image %s says where it is", project, project))
				} else {
					yield(BuildEvent{}, fmt.Errorf("read the build of %s: %w", project, err))
				}
				return
			}
			switch ev.Kind {
			case BuildError:
				yield(ev, &BuildFailed{Project: project, Message: ev.Error})
				return
			case BuildDone:
				yield(ev, nil)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}
