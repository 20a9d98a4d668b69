package procs

// State is a process state with Python supervisord's numbers.
type State int

// Process states, numbered as supervisor.states.ProcessStates.
const (
	Stopped  State = 0
	Starting State = 10
	Running  State = 20
	Backoff  State = 30
	Stopping State = 40
	Exited   State = 100
	Fatal    State = 200
	Unknown  State = 1000
)

// String returns the Python state name, e.g. RUNNING.
func (s State) String() string {
	switch s {
	case Stopped:
		return "STOPPED"
	case Starting:
		return "STARTING"
	case Running:
		return "RUNNING"
	case Backoff:
		return "BACKOFF"
	case Stopping:
		return "STOPPING"
	case Exited:
		return "EXITED"
	case Fatal:
		return "FATAL"
	}
	return "UNKNOWN"
}

// IsRunning reports the states Python calls RUNNING_STATES.
func (s State) IsRunning() bool { return s == Running || s == Starting || s == Backoff }
