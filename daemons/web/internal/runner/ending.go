package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TreeStop is the marker the tree leaves when its own shutdown stops
// task containers (image/podman-tasks on docker stop, the native tree's
// podman-tasks on make run-native's Ctrl-C): one JSON file per shutdown in
// the runner's TreeStopDir, written before the containers are stopped.
// terok-web cannot tell such a stop from the exit code alone.
type TreeStop struct {
	// Time is when the stopper listed the containers, before it stopped
	// them.
	Time time.Time `json:"time"`
	// By names who stopped them, e.g. "docker stop (podman-tasks)".
	By string `json:"by"`
	// Containers are the full ids of the containers it stopped.
	Containers []string `json:"containers"`
}

// treeStopSlack allows for clocks read by different processes: a
// container counts as stopped by the tree when it finished at most this
// long before the marker's time.
const treeStopSlack = 2 * time.Second

// loadTreeStops reads every marker of dir (unreadable or malformed
// files are skipped) with the file each came from.
func loadTreeStops(dir string) map[string]TreeStop {
	out := map[string]TreeStop{}
	if dir == "" {
		return out
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var ts TreeStop
		if json.Unmarshal(b, &ts) != nil {
			continue
		}
		out[p] = ts
	}
	return out
}

// treeStopOf returns the marker naming the container id, if the tree's
// shutdown stopped it: the container is listed and did not finish before
// the marker was written.
func treeStopOf(stops map[string]TreeStop, id string, finished time.Time) (TreeStop, bool) {
	if id == "" {
		return TreeStop{}, false
	}
	var best TreeStop
	found := false
	for _, ts := range stops {
		if !slices.Contains(ts.Containers, id) {
			continue
		}
		if !finished.IsZero() && !ts.Time.IsZero() && finished.Before(ts.Time.Add(-treeStopSlack)) {
			continue
		}
		if !found || ts.Time.After(best.Time) {
			best, found = ts, true
		}
	}
	return best, found
}

// Ending is how one ended run is recorded.
type Ending struct {
	State    string // stopped, exited or failed
	ExitCode *int   // the container's exit code, when Podman reports one
	Reason   string // why it failed, or what to do (kept on the task)
	Detail   string // why it ended, for the timeline
}

// ending decides how a run whose container ended is recorded. The exit
// code is the one Podman reports for the container (inspect, found says
// whether the inspect answered), else the one its wait returned. A run
// the user stopped (terok task stop) or the tree's own shutdown stopped
// (a TreeStop marker naming the container) is stopped with that code;
// a container Podman never got to run is failed; anything else exited.
func ending(ct podmanapi.Container, found bool, waitCode int, userStop bool, stops map[string]TreeStop) Ending {
	code := waitCode
	if found && !ct.State.Running {
		code = ct.State.ExitCode
	}
	e := Ending{State: webapi.StateExited, ExitCode: &code}
	switch {
	case userStop:
		e.State, e.Detail = webapi.StateStopped, "stopped on request"
	case found:
		if ts, ok := treeStopOf(stops, ct.ID, ct.State.FinishedAt); ok {
			by := ts.By
			if by == "" {
				by = "the tree's shutdown"
			}
			e.State = webapi.StateStopped
			e.Detail = fmt.Sprintf("stopped by %s (exit %d); terok task restart runs it again", by, code)
			return e
		}
		if ct.State.OOMKilled {
			e.Reason = "killed for lack of memory: raise limits.memory in the project"
			e.Detail = e.Reason
		} else if ct.State.Error != "" && ct.State.StartedAt.IsZero() {
			e.State = webapi.StateFailed
			e.Reason = "Podman could not run the container: " + ct.State.Error
			e.Detail = e.Reason
		}
	}
	return e
}
