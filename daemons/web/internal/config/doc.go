// Package config is terok-web's one typed configuration, filled in the
// order every terok daemon uses: Default, then an optional JSON file
// (LoadFile; unknown keys refused), then the environment (ApplyEnv), then
// the command line's flags, then Validate, whose errors name the setting
// (its variable) and the fix. Values are parsed once, here: the rest of
// terok-web reads them from Config (TEROK_PUBLIC_URL as Public).
package config
