package podconf

import "errors"

// ErrBadTOML means an existing configuration file does not parse.
var ErrBadTOML = errors.New("configuration file is not valid TOML")

// ErrHooksDirOverridden means the user's containers.conf sets hooks_dir
// without terok's hooks directory, which would silently disarm the shield.
var ErrHooksDirOverridden = errors.New("hooks_dir in containers.conf leaves out terok's hooks directory")
