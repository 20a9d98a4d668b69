// Package config is terok-shield's one typed daemon configuration:
// defaults, then <config>/system/shield/config.json, then TEROK_SHIELD_* variables,
// then command-line flags, then Validate.
package config
