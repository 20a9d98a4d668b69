package podmanapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// BuildSecret hands a file to the build as a secret: a RUN step that
// mounts it (RUN --mount=type=secret,id=ID) reads it at /run/secrets/ID,
// and it never becomes part of a layer. Src is the file's path INSIDE the
// build context tar: Podman moves it out of the context before the build
// starts, so COPY . cannot pick it up either.
type BuildSecret struct {
	ID  string
	Src string
}

// BuildOptions tune Build. The context tar itself is the caller's: it
// holds the Containerfile and every file a secret names.
type BuildOptions struct {
	// Tags name the built image, e.g. "localhost/terok-agents:1a2b"; Podman
	// applies them only when the build succeeds.
	Tags []string
	// Containerfile is its path inside the context (default "Containerfile").
	Containerfile string
	// BuildArgs are ARG values.
	BuildArgs map[string]string
	// Labels are set on the built image (besides the Containerfile's LABELs).
	Labels map[string]string
	// Secrets are handed to RUN --mount=type=secret steps.
	Secrets []BuildSecret
	// NoCache builds every step anew instead of reusing cached layers.
	NoCache bool
	// PullPolicy is "never" (the default here: terok has no registry and
	// FROM names local images), "missing", "always" or "ifnewer".
	PullPolicy string
}

// BuildLine is one JSON line of Podman's build stream. Stream holds a
// piece of the build's output (step headers like "STEP 2/5: RUN …", the
// steps' own output, "COMMIT …"); it is not cut at line ends. Error is
// set on the last line of a failed build.
type BuildLine struct {
	Stream string `json:"stream,omitempty"`
	Error  string `json:"error,omitempty"`
	// ErrorDetail carries the same message as Error in newer Podmans.
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail,omitempty"`
	Aux json.RawMessage `json:"aux,omitempty"`
}

// Err returns the line's error message, or "".
func (l BuildLine) Err() string {
	if l.Error != "" {
		return l.Error
	}
	if l.ErrorDetail != nil {
		return l.ErrorDetail.Message
	}
	return ""
}

// BuildResult is what a successful Build made.
type BuildResult struct {
	// ImageID is the built image's full id (64 hex digits, no "sha256:").
	ImageID string
}

// BuildError is a build that Podman ran and that failed: Message is
// Podman's error line (e.g. `building at STEP "RUN false": while running
// runtime: exit status 1`). It matches ErrBuildFailed with errors.Is.
type BuildError struct {
	Message string
}

func (e *BuildError) Error() string { return "build failed: " + e.Message }

// Is makes errors.Is(err, ErrBuildFailed) true.
func (e *BuildError) Is(target error) bool { return target == ErrBuildFailed }

// imageIDLine is the last stream line of a libpod build: the new image's
// full id.
// OCIManifest is the image format builds produce.
const OCIManifest = "application/vnd.oci.image.manifest.v1+json"

var imageIDLine = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Build runs POST /libpod/build with the tar of a build context and calls
// each (nil to drop them) for every JSON line of the build's stream, as it
// arrives. It returns the built image's id when the build succeeded, a
// *BuildError (errors.Is ErrBuildFailed) when Podman reports a failed
// step, and an error wrapping the HTTP answer when Podman refused the
// request (a bad option: ErrBadRequest). An error returned by each stops
// the build (the connection is closed, Podman cancels it) and is returned.
// Cancel ctx to stop it too.
//
// Intermediate layers are kept and reused (layers=true) unless NoCache;
// intermediate containers are removed even when a step fails.
func (c *Client) Build(ctx context.Context, contextTar io.Reader, o BuildOptions, each func(BuildLine) error) (BuildResult, error) {
	q, err := o.query()
	if err != nil {
		return BuildResult{}, err
	}
	resp, err := c.do(ctx, http.MethodPost, withQuery(lp("/build"), q), contextTar, "application/x-tar", http.StatusOK)
	if err != nil {
		return BuildResult{}, fmt.Errorf("build %s: %w", strings.Join(o.Tags, ", "), err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var id string
	for {
		var l BuildLine
		if err := dec.Decode(&l); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				return BuildResult{}, fmt.Errorf("build %s: %w", strings.Join(o.Tags, ", "), ctx.Err())
			}
			return BuildResult{}, fmt.Errorf("build %s: read Podman's build stream (did Podman stop?): %w", strings.Join(o.Tags, ", "), err)
		}
		if each != nil {
			if err := each(l); err != nil {
				return BuildResult{}, err
			}
		}
		if msg := l.Err(); msg != "" {
			return BuildResult{}, &BuildError{Message: strings.TrimSpace(msg)}
		}
		if s := strings.TrimSpace(l.Stream); imageIDLine.MatchString(s) {
			id = s
		}
	}
	if id == "" {
		return BuildResult{}, fmt.Errorf("build %s: Podman's build stream ended without an image id (did Podman stop?)", strings.Join(o.Tags, ", "))
	}
	return BuildResult{ImageID: id}, nil
}

// query turns the options into libpod's build query.
func (o BuildOptions) query() (url.Values, error) {
	q := url.Values{}
	cf := o.Containerfile
	if cf == "" {
		cf = "Containerfile"
	}
	q.Set("dockerfile", cf)
	for _, t := range o.Tags {
		if t == "" || strings.ContainsAny(t, " \t\n") {
			return nil, fmt.Errorf("build: tag %q is not an image name: use e.g. localhost/name:tag", t)
		}
		q.Add("t", t)
	}
	q.Set("layers", "true")
	// Without an output format a libpod build never finds its cached
	// layers (Podman 4.3 compares the cached image's format with "").
	q.Set("outputformat", OCIManifest)
	q.Set("rm", "true")
	q.Set("forcerm", "true")
	if o.NoCache {
		q.Set("nocache", "true")
	}
	switch o.PullPolicy {
	case "":
		q.Set("pullpolicy", "never")
	case "never", "missing", "always", "ifnewer":
		q.Set("pullpolicy", o.PullPolicy)
	default:
		return nil, fmt.Errorf("build: pull policy %q: use never, missing, always or ifnewer", o.PullPolicy)
	}
	if len(o.BuildArgs) > 0 {
		b, _ := json.Marshal(o.BuildArgs)
		q.Set("buildargs", string(b))
	}
	if len(o.Labels) > 0 {
		b, _ := json.Marshal(o.Labels)
		q.Set("labels", string(b))
	}
	if len(o.Secrets) > 0 {
		var ss []string
		for _, s := range o.Secrets {
			if err := checkSecret(s); err != nil {
				return nil, err
			}
			ss = append(ss, "id="+s.ID+",src="+s.Src)
		}
		b, _ := json.Marshal(ss)
		q.Set("secrets", string(b))
	}
	return q, nil
}

var secretIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// checkSecret refuses what Podman would misread: its option string is
// split at commas, and it moves Src out of the context next to the
// context directory, so Src must be a plain file name there.
func checkSecret(s BuildSecret) error {
	if !secretIDRE.MatchString(s.ID) {
		return fmt.Errorf("build: secret id %q: use letters, digits, . _ -", s.ID)
	}
	if !secretIDRE.MatchString(s.Src) || s.Src == "." || s.Src == ".." {
		return fmt.Errorf("build: secret %s: src %q must be a plain file name at the top of the context tar (letters, digits, . _ -)", s.ID, s.Src)
	}
	return nil
}
