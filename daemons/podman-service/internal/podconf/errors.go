package podconf

import "errors"

// ErrBadTOML means an existing configuration file does not parse.
var ErrBadTOML = errors.New("configuration file is not valid TOML")

// ErrHooksDirOverridden means the user's containers.conf sets hooks_dir
// without terok's hooks directory, which would silently disarm the shield.
var ErrHooksDirOverridden = errors.New("hooks_dir in containers.conf leaves out terok's hooks directory")

// ErrBadState means the file in which podman-service records the values it
// wrote does not parse.
var ErrBadState = errors.New("podman-service's record of the values it wrote is unreadable")

// ErrCannotUpdate means a value podman-service wrote earlier must change
// but its line can no longer be found to change it safely.
var ErrCannotUpdate = errors.New("cannot update a value podman-service wrote earlier")
