package service

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/child"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/serviceapi"
)

// ErrAPIDown is the health problem when Podman's API does not answer.
var ErrAPIDown = errors.New("podman API does not answer")

// Source is what the handlers read: the supervisor's state.
type Source interface {
	Snapshot() child.Snapshot
}

// Blocked is the state of a podman-service that does not start Podman
// because the machine cannot run rootless containers at all (Block).
const Blocked = "blocked"

// Handler serves the service API.
type Handler struct {
	src      Source
	api      *podmanapi.Client
	hooksDir string
	blocked  string // the problem that keeps Podman from running, if any
	mux      *http.ServeMux
	json     http.Handler // mux with JSON answers for unknown routes
}

// New returns the handler for podman-service.sock.
func New(src Source, api *podmanapi.Client, hooksDir string) *Handler {
	h := &Handler{src: src, api: api, hooksDir: hooksDir, mux: http.NewServeMux()}
	h.mux.Handle("GET "+health.Path, health.Handler("podman-service", buildinfo.Version, h.probe))
	h.mux.HandleFunc("GET "+serviceapi.StatusPath, h.status)
	h.json = unixhttp.JSONErrors(h.mux)
	return h
}

// Block makes the health answer degraded with problem (and the status
// show it) without asking Podman: podman-service runs without Podman
// because no container could run here.
func (h *Handler) Block(problem string) { h.blocked = problem }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.json.ServeHTTP(w, r) }

func (h *Handler) probe(ctx context.Context) (map[string]any, error) {
	sn := h.src.Snapshot()
	if h.blocked != "" {
		return map[string]any{"state": Blocked, "podman_socket": h.api.Socket(), "api_answers": false}, errors.New(h.blocked)
	}
	d := map[string]any{
		"podman_socket": h.api.Socket(),
		"state":         sn.State,
		"child_pid":     sn.PID,
		"restarts":      sn.Restarts,
		"pause_resets":  sn.Migrations,
		"hooks_dir":     h.hooksDir,
		"api_answers":   false,
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// A ping only: its headers carry the version, while Podman answers
	// the version query by running the package manager (see child).
	p, err := h.api.Ping(ctx)
	if err != nil {
		return d, ErrAPIDown
	}
	d["api_answers"] = true
	d["podman_version"] = p.LibpodAPIVersion
	return d, nil
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	sn := h.src.Snapshot()
	st := serviceapi.Status{
		State: sn.State, PodmanSocket: h.api.Socket(), ChildPID: sn.PID, Restarts: sn.Restarts, PauseResets: sn.Migrations,
		PodmanVersion: sn.PodmanVersion, APIVersion: sn.APIVersion, HooksDir: h.hooksDir, LastError: sn.LastError,
	}
	if h.blocked != "" {
		st.State, st.LastError = Blocked, h.blocked
		unixhttp.WriteJSON(w, http.StatusOK, st)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if info, err := h.api.Info(ctx); err == nil {
		st.APIAnswers = true
		st.PodmanVersion = info.Version.Version
		st.StorageDriver = info.Store.GraphDriverName
		st.Runtime = info.Host.OCIRuntime.Name
		st.CgroupManager = info.Host.CgroupManager
		st.Containers = info.Store.ContainerStore.Number
		st.Images = info.Store.ImageStore.Number
	} else if st.LastError == "" {
		st.LastError = err.Error()
	}
	unixhttp.WriteJSON(w, http.StatusOK, st)
}
