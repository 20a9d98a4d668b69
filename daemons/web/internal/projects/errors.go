package projects

import "errors"

// ErrNotFound means no project of that name exists.
var ErrNotFound = errors.New("no such project")

// ErrExists means a project of that name exists already.
var ErrExists = errors.New("project exists")

// ErrInvalid means a project file or a request does not validate; the
// message names the file, the field and the fix.
var ErrInvalid = errors.New("invalid project")
