package resolve

import "errors"

// ErrNoAddress is returned when a name has no A or AAAA record.
var ErrNoAddress = errors.New("name has no A or AAAA record")
