package hook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	current "github.com/containers/common/pkg/hooks/1.0.0"
	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// Stages the hook handles.
const (
	StageCreateRuntime = "createRuntime"
	StagePoststop      = "poststop"
)

// ReadState decodes the OCI state JSON.
func ReadState(r io.Reader) (rspec.State, error) {
	var st rspec.State
	dec := json.NewDecoder(io.LimitReader(r, 4<<20))
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("%w: %v", ErrBadState, err)
	}
	if st.ID == "" {
		return st, fmt.Errorf("%w: no container id", ErrBadState)
	}
	return st, nil
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Request turns the OCI state into an arm request; ok is false when the
// container asks for neither the shield (terok.shield=on) nor the minimal
// ruleset of a task without it (terok.shield=open).
func Request(st rspec.State) (req shieldapi.ArmRequest, ok bool, err error) {
	a := st.Annotations
	on := a[shieldapi.AnnotationShield]
	if on != shieldapi.ShieldOn && on != shieldapi.ShieldOpen {
		return req, false, nil
	}
	if st.Pid <= 0 {
		return req, true, fmt.Errorf("%w: no pid for container %s", ErrBadState, st.ID)
	}
	if on == shieldapi.ShieldOpen {
		// No shield for the project: only the host side is guarded.
		// Nothing else of the annotations applies but the deny list.
		return shieldapi.ArmRequest{ID: st.ID, PID: st.Pid, Project: a[shieldapi.AnnotationProject], Mode: shieldapi.ModeOpen,
			Deny: list(a[shieldapi.AnnotationDeny])}, true, nil
	}
	req = shieldapi.ArmRequest{ID: st.ID, PID: st.Pid, Project: a[shieldapi.AnnotationProject],
		Profiles: list(a[shieldapi.AnnotationProfiles]), Allow: list(a[shieldapi.AnnotationAllow]),
		Mode: shieldapi.Mode(a[shieldapi.AnnotationMode]), Deny: list(a[shieldapi.AnnotationDeny])}
	if req.Mode == shieldapi.ModeOpen {
		return req, true, fmt.Errorf("%w: %s=open: a task without the shield is annotated %s=%s", ErrBadAnnotation,
			shieldapi.AnnotationMode, shieldapi.AnnotationShield, shieldapi.ShieldOpen)
	}
	for _, p := range list(a[shieldapi.AnnotationPorts]) {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return req, true, fmt.Errorf("%w: %s=%q: %q is not a port", ErrBadAnnotation, shieldapi.AnnotationPorts, a[shieldapi.AnnotationPorts], p)
		}
		req.Ports = append(req.Ports, uint16(n))
	}
	return req, true, nil
}

// Run performs one hook stage. Any error at createRuntime must stop the
// container from starting: the caller exits non-zero.
func Run(ctx context.Context, stage string, stdin io.Reader, c *shieldapi.Client) error {
	if stage != StageCreateRuntime && stage != StagePoststop {
		return fmt.Errorf("%q: %w", stage, ErrBadStage)
	}
	st, err := ReadState(stdin)
	if err != nil {
		return err
	}
	req, on, err := Request(st)
	if err != nil {
		return err
	}
	if !on {
		return nil
	}
	if stage == StagePoststop {
		err := c.Disarm(ctx, st.ID)
		if unixhttp.StatusOf(err) == http.StatusNotFound {
			return nil
		}
		return err
	}
	if _, err := c.Arm(ctx, req); err != nil {
		return fmt.Errorf("arm container %s: %w", st.ID, err)
	}
	return nil
}

// Files returns the hooks JSON files (name → content) that run bin as the
// hook for every container annotated terok.shield=on or =open.
func Files(bin, socket string) (map[string][]byte, error) {
	if !filepath.IsAbs(bin) {
		return nil, fmt.Errorf("hook binary %q must be an absolute path", bin)
	}
	out := map[string][]byte{}
	for _, stage := range []string{StageCreateRuntime, StagePoststop} {
		timeout := 30
		h := current.Hook{
			Version: current.Version,
			Hook: rspec.Hook{Path: bin, Args: []string{"terok-shield", "hook", "--socket", socket, stage},
				Timeout: &timeout},
			When: current.When{Annotations: map[string]string{
				"^" + strings.ReplaceAll(shieldapi.AnnotationShield, ".", `\.`) + "$": "^(" + shieldapi.ShieldOn + "|" + shieldapi.ShieldOpen + ")$"}},
			Stages: []string{stage},
		}
		if err := h.Validate(nil); err != nil {
			return nil, fmt.Errorf("hook for %s: %w", stage, err)
		}
		b, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			return nil, err
		}
		out["terok-shield-"+stage+".json"] = append(b, '\n')
	}
	return out, nil
}

// Install writes the hooks JSON into dir atomically (0644).
func Install(dir, bin, socket string) ([]string, error) {
	files, err := Files(bin, socket)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create hooks dir: %w", err)
	}
	var written []string
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := atomicfile.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		written = append(written, p)
	}
	return written, nil
}
