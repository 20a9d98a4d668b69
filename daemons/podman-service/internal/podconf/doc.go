// Package podconf writes the few keys podman-service must decide into the
// user's containers.conf and storage.conf, and leaves every other line of
// those files as the user wrote it.
//
// podman-service records the values it wrote in a state file beside the
// configuration (StateFile). A key whose value still equals the recorded
// one is podman-service's and is updated when the decision changes; any
// other value is the user's and is kept (and reported), with one exception
// that fails instead: an [engine] hooks_dir that leaves out the hooks
// directory terok's shield depends on.
package podconf
