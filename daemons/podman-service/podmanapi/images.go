package podmanapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ImportImage imports a root filesystem tarball (plain or gzip) as image
// ref, e.g. "localhost/busybox:latest", and returns the image id. Podman
// accepts any tar here; check it with CheckRootfs first.
func (c *Client) ImportImage(ctx context.Context, ref string, tarball io.Reader) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("import image: no image name given")
	}
	q := url.Values{"reference": {ref}}
	resp, err := c.do(ctx, http.MethodPost, withQuery(lp("/images/import"), q), tarball, "application/x-tar", http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("import image %s: %w", ref, err)
	}
	defer resp.Body.Close()
	var r struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.ID == "" {
		return "", fmt.Errorf("import image %s: unexpected answer (%v)", ref, err)
	}
	return r.ID, nil
}

// ListImages lists the local images.
func (c *Client) ListImages(ctx context.Context) ([]Image, error) {
	var out []Image
	err := c.call(ctx, http.MethodGet, lp("/images/json"), nil, &out)
	return out, err
}

// ImageExists reports whether a local image name or id exists.
func (c *Client) ImageExists(ctx context.Context, name string) (bool, error) {
	return c.exists(ctx, lp("/images/%s/exists", name))
}

// RemoveImage deletes a local image; force also removes containers using
// it. An unknown image gives ErrNotFound.
func (c *Client) RemoveImage(ctx context.Context, name string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	return c.call(ctx, http.MethodDelete, withQuery(lp("/images/%s", name), q), nil, nil, http.StatusOK, http.StatusNoContent)
}

// ImagesByLabel lists the local images carrying every label given, each
// "key" or "key=value" (Podman's label filter).
func (c *Client) ImagesByLabel(ctx context.Context, labels ...string) ([]Image, error) {
	if len(labels) == 0 {
		return c.ListImages(ctx)
	}
	f, _ := json.Marshal(map[string][]string{"label": labels})
	var out []Image
	err := c.call(ctx, http.MethodGet, withQuery(lp("/images/json"), url.Values{"filters": {string(f)}}), nil, &out)
	return out, err
}

// InspectImage returns a local image's details, by name or id. An unknown
// image gives ErrNotFound.
func (c *Client) InspectImage(ctx context.Context, name string) (ImageDetails, error) {
	var d ImageDetails
	err := c.call(ctx, http.MethodGet, lp("/images/%s/json", name), nil, &d)
	return d, err
}

// ImageHistory returns the layers of a local image, newest first, each
// with the instruction that made it and its size.
func (c *Client) ImageHistory(ctx context.Context, name string) ([]ImageLayer, error) {
	var h []ImageLayer
	err := c.call(ctx, http.MethodGet, lp("/images/%s/history", name), nil, &h)
	return h, err
}

// TagImage gives the local image name (or id) the further name ref,
// e.g. "localhost/terok-project-demo:latest", moving ref from whatever
// image held it before.
func (c *Client) TagImage(ctx context.Context, name, ref string) error {
	repo, tag := splitRef(ref)
	if repo == "" || strings.ContainsAny(ref, " \t\n@") {
		return fmt.Errorf("tag image %s: %q is not an image name: use e.g. localhost/name:tag", name, ref)
	}
	q := url.Values{"repo": {repo}, "tag": {tag}}
	return c.call(ctx, http.MethodPost, withQuery(lp("/images/%s/tag", name), q), nil, nil, http.StatusCreated, http.StatusOK)
}

// splitRef splits "host/name:tag" into repository and tag ("latest" when
// none); a colon before the last slash belongs to a registry's port.
func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.IndexByte(ref[i:], '/') >= 0 {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}
