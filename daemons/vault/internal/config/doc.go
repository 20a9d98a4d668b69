// Package config is terok-vault's one typed configuration: defaults, then
// an optional JSON file, then the environment, then flags, then Validate.
// The broker's listener settings (timeouts, sizes, connections) are kept
// together in Limits so that one place decides them.
package config
