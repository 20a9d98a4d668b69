package podmanapi

import (
	"context"
	"net/http"
)

// Rootless network commands a task container can get.
const (
	NetPasta       = "pasta"
	NetSlirp4netns = "slirp4netns"
)

// RootlessNetwork names the command rootless Podman uses for a container's
// network by default: "pasta" (Podman 5) or "slirp4netns" (Podman 4,
// which does not report it and only has slirp4netns by default).
func (c *Client) RootlessNetwork(ctx context.Context) (string, error) {
	var i struct {
		Host struct {
			RootlessNetworkCmd string `json:"rootlessNetworkCmd"`
		} `json:"host"`
	}
	if err := c.call(ctx, http.MethodGet, lp("/info"), nil, &i); err != nil {
		return "", err
	}
	if i.Host.RootlessNetworkCmd == NetPasta {
		return NetPasta, nil
	}
	return NetSlirp4netns, nil
}
