package target

import "errors"

// ErrInvalid is returned for an entry that is neither an IP, a CIDR nor a domain.
var ErrInvalid = errors.New("invalid target: want an IP address (203.0.113.7), a CIDR (198.51.100.0/24) or a domain (example.org)")
