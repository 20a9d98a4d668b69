package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
)

// ImageStatus is what the image's podman-tasks writes about the default
// task image while it provides it ($TEROK_RUN_DIR/task-image.json): it
// exists from podman-tasks' start on, so a task started in the first
// seconds of a container waits for the import instead of failing.
type ImageStatus struct {
	Image string `json:"image"`
	// State is checking (waiting for Podman), importing, building,
	// ready or failed.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Detail says why it failed.
	Detail string `json:"detail,omitempty"`
}

// Image status states that a task waits for.
const (
	ImageChecking  = "checking"
	ImageImporting = "importing"
	ImageBuilding  = "building"
	ImageReady     = "ready"
	ImageFailed    = "failed"
)

// pending reports whether the image is still being provided.
func (s ImageStatus) pending() bool {
	return s.State == ImageChecking || s.State == ImageImporting || s.State == ImageBuilding
}

// imageStatus reads the status file for image; ok is false when there is
// none (natively, or podman-tasks has not started) or it is about
// another image.
func (r *Runner) imageStatus(image string) (ImageStatus, bool) {
	var s ImageStatus
	if r.cfg.ImageStatusFile == "" {
		return s, false
	}
	b, err := os.ReadFile(r.cfg.ImageStatusFile)
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, images.SameImage(s.Image, image)
}

func (r *Runner) apiImporting(image string) bool {
	return r.imports != nil && r.imports.Importing(image)
}

// imageWait says what a task of image waits for, "" when the image is
// not being provided (or is there).
func (r *Runner) imageWait(image string) string {
	if s, ok := r.imageStatus(image); ok && s.pending() {
		what := "imports"
		switch s.State {
		case ImageBuilding:
			what = "builds"
		case ImageChecking:
			what = "is about to check"
		}
		return fmt.Sprintf("waiting for the task image %s: podman-tasks %s it (the first start of a container takes 7-13 s; docker logs shows \"podman-tasks | imported\" when it is there)", image, what)
	}
	if r.apiImporting(image) {
		return fmt.Sprintf("waiting for the task image %s: it is being imported (terok image import, make task-image)", image)
	}
	return ""
}

// imageWaitLimit bounds the wait for an image being provided.
const imageWaitLimit = 15 * time.Minute

// waitImage waits until image is in Podman's store, while it is being
// provided. It returns nil when the image is there, ErrImageMissing with
// the advice that fits when it is not (and nobody provides it), and
// errGone when the task ended or vanished meanwhile (stopped, removed).
func (r *Runner) waitImage(ctx context.Context, id, image string) error {
	deadline := time.Now().Add(imageWaitLimit)
	for {
		ok, err := r.podman.ImageExists(ctx, image)
		if err != nil {
			return fail.Daemon("podman", "check image "+image, err)
		}
		if ok {
			return nil
		}
		if t, err := r.store.Get(id); err != nil || t.Done() {
			return errGone
		}
		if r.imageWait(image) == "" {
			// Nobody provides it now; one that just finished did so
			// after the check above: look once more.
			if ok, err := r.podman.ImageExists(ctx, image); err == nil && ok {
				return nil
			}
			return r.imageMissing(image)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: image %s was still being provided after %s; docker logs (podman-tasks) says why", ErrImageMissing, image, imageWaitLimit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// imageMissing is the error for an image that is not in Podman's store,
// with advice that fits where terok runs: in the image, podman-tasks
// provides the default image (and says why it could not); natively,
// make task-image builds it.
func (r *Runner) imageMissing(image string) error {
	hint := "terok image import " + image + " TARBALL imports it"
	if s, ok := r.imageStatus(image); ok {
		switch s.State {
		case ImageFailed:
			hint = "podman-tasks could not provide it"
			if s.Detail != "" {
				hint += " (" + s.Detail + ")"
			}
			hint += ": its log says why (docker logs, or supervisorctl tail podman-tasks in the container); supervisorctl restart podman-tasks in the container tries again"
		default:
			hint = "podman-tasks provides it at the container's start: supervisorctl restart podman-tasks in the container imports it again"
		}
	} else if images.SameImage(image, projects.DefaultImage) {
		hint = "make task-image builds it"
	}
	return fmt.Errorf("%w: image %s is not in Podman's store: %s (terok image list shows what is there)", ErrImageMissing, image, hint)
}
