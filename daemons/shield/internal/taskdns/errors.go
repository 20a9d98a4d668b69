package taskdns

import "errors"

// ErrRefused, returned by Policy.Answered, makes the reply REFUSED (the
// name was denied while its lookup was under way).
var ErrRefused = errors.New("name refused")
