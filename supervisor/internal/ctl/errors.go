package ctl

import "errors"

// ErrUsage marks a bad command line or client config; Main prints it in
// Python's "Error: ...\nFor help, use PROG -h" form and exits 2.
var ErrUsage = errors.New("usage")

// ErrNoSection means the config file has no [supervisorctl] section.
var ErrNoSection = errors.New(".ini file does not include supervisorctl section")
