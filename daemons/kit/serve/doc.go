// Package serve is the frame of every daemon's serve command: Run gives
// it its logger and a context that SIGTERM and SIGINT end; a Group serves
// its listeners and runs its loops until that context ends (or one of
// them stops), then shuts every listener down within a grace period and
// runs the daemon's clean-ups, so every goroutine it started has ended
// when Wait returns.
package serve
