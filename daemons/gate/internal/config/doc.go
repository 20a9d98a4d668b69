// Package config is terok-gate's one typed configuration: defaults, then
// an optional JSON file, then the environment, then flags, then Validate.
package config
