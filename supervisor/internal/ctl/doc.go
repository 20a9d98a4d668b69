// Package ctl implements terok's supervisorctl: option parsing, the
// client's part of the supervisord ini config, and every command with the
// output strings and exit statuses of Python's supervisorctl 4.2.5, so that
// scripts written against Python's client keep working with ours.
//
// The commands talk XML-RPC through a Caller (supervisor/internal/xmlrpc's
// Client in production, a fake in unit tests) and stream logs over plain
// HTTP GET /logtail and /mainlogtail, as Python's client does.
package ctl
