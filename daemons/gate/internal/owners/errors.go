package owners

import "errors"

// ErrCorrupt means a repository's owner record could not be parsed.
var ErrCorrupt = errors.New("branch owner record is corrupt")
