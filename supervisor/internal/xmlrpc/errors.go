package xmlrpc

import (
	"errors"
	"fmt"
)

// ErrMalformed means the XML was not a valid XML-RPC document.
var ErrMalformed = errors.New("malformed XML-RPC")

// Fault is an XML-RPC fault answer. It is an error.
type Fault struct {
	Code   int
	String string
}

// Error implements error.
func (f *Fault) Error() string { return fmt.Sprintf("%d: %s", f.Code, f.String) }
