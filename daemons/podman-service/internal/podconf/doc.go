// Package podconf writes the few keys podman-service must decide into the
// user's containers.conf and storage.conf, and leaves every other line of
// those files as the user wrote it.
//
// A key the user already set is kept (and reported), with one exception
// that fails instead: an [engine] hooks_dir that leaves out the hooks
// directory terok's shield depends on.
package podconf
