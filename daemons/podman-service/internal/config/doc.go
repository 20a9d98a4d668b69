// Package config is podman-service's typed configuration: defaults, then
// an optional TOML file, then environment variables, then flags, then
// Validate.
package config
