package runner

import (
	"context"
	"strconv"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/nsdial"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// WebTarget says where a web task's app listens: the namespaces of its
// container's first process, on the project's run.web_port (the
// container's TEROK_WEB_PORT). Verify checks, once the namespace files are
// open, that the pid is still that container's.
func (r *Runner) WebTarget(ctx context.Context, taskID string) (nsdial.Target, error) {
	t, err := r.store.Get(taskID)
	if err != nil {
		return nsdial.Target{}, err
	}
	if t.Mode != webapi.ModeWeb || t.Container == "" || t.Done() {
		return nsdial.Target{}, fail.Conflict("task %s is not a running web task", taskID)
	}
	c, err := r.podman.InspectContainer(ctx, t.Container)
	if err != nil {
		return nsdial.Target{}, fail.Daemon("podman", "inspect the task container", err)
	}
	if !c.State.Running || c.State.Pid <= 0 {
		return nsdial.Target{}, fail.Conflict("task %s's container is %s", taskID, c.State.Status)
	}
	port := 0
	for _, kv := range c.Config.Env {
		if v, ok := strings.CutPrefix(kv, "TEROK_WEB_PORT="); ok {
			port, _ = strconv.Atoi(v)
		}
	}
	if port <= 0 || port > 65535 {
		return nsdial.Target{}, fail.Conflict("task %s's container has no TEROK_WEB_PORT", taskID)
	}
	id, pid := c.ID, c.State.Pid
	return nsdial.Target{Key: id, PID: pid, Port: port, Verify: func(ctx context.Context) error {
		c, err := r.podman.InspectContainer(ctx, id)
		if err != nil {
			return fail.Daemon("podman", "inspect the task container", err)
		}
		if !c.State.Running || c.State.Pid != pid {
			return fail.Conflict("task %s's container changed while its namespaces were opened", taskID)
		}
		return nil
	}}, nil
}
