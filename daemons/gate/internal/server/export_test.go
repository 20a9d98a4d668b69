package server

import "time"

// SetHeartbeat changes how often an idle event stream sends an empty
// line, for a test; the returned func restores it.
func SetHeartbeat(d time.Duration) func() {
	old := heartbeat
	heartbeat = d
	return func() { heartbeat = old }
}
