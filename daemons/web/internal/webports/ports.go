package webports

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// The range web-mode tasks are published on (a contract: the image's
// documentation maps it with -p 7860-7880:7860-7880).
const (
	FirstPort = 7860
	LastPort  = 7880
)

// LabelWebPort is the container label that records a web-mode task's
// host port, so the allocation can be rebuilt from Podman after a
// restart (PortsFromContainers).
const LabelWebPort = "terok.web-port"

// Allocator hands out host ports of a range to web-mode tasks: one per
// task, never one another program listens on, until released. It is safe
// for concurrent use. It keeps no file of its own: the truth is the
// containers' LabelWebPort, read back with PortsFromContainers and
// Restore when terok-web starts.
type Allocator struct {
	first, last int
	inUse       func(port int) bool

	mu     sync.Mutex
	byTask map[string]int
	byPort map[int]string
	next   int
}

// NewAllocator returns an allocator over first..last (inclusive), e.g.
// NewAllocator(FirstPort, LastPort).
func NewAllocator(first, last int) (*Allocator, error) {
	if first < 1 || last > 65535 || first > last {
		return nil, fmt.Errorf("%w: range %d-%d: give 1 <= first <= last <= 65535", ErrBadPort, first, last)
	}
	return &Allocator{first: first, last: last, inUse: listening,
		byTask: map[string]int{}, byPort: map[int]string{}, next: first}, nil
}

// listening reports whether some program holds port on the host: binding
// the wildcard address (IPv4 and IPv6) fails if any address has it.
func listening(port int) bool { return !bindable("", port) }

// bindable reports whether host:port can be bound now.
func bindable(host string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// SetHost makes the allocator skip the ports host cannot bind (the
// default checks the wildcard address: any address holding the port).
// Call it before the first Allocate.
func (a *Allocator) SetHost(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inUse = func(port int) bool { return !bindable(host, port) }
}

// Allocate returns taskID's port, choosing a free one the first time.
// Ports are handed out round the range, so a just-released port is the
// last to be reused (a stale browser tab does not reach the next task).
func (a *Allocator) Allocate(taskID string) (int, error) {
	if taskID == "" {
		return 0, errors.New("allocate web port: no task id")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.byTask[taskID]; ok {
		return p, nil
	}
	n := a.last - a.first + 1
	busy := 0
	for i := 0; i < n; i++ {
		p := a.first + (a.next-a.first+i)%n
		if _, taken := a.byPort[p]; taken {
			continue
		}
		if a.inUse(p) {
			busy++
			continue
		}
		a.byTask[taskID], a.byPort[p] = p, taskID
		a.next = p + 1
		if a.next > a.last {
			a.next = a.first
		}
		return p, nil
	}
	return 0, fmt.Errorf("%w for task %s: ports %d-%d are all taken (%d by web tasks, %d by other programs); stop a web-mode task or free a port",
		ErrNoFreePort, taskID, a.first, a.last, len(a.byPort), busy)
}

// Release frees taskID's port (a no-op when it has none).
func (a *Allocator) Release(taskID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.byTask[taskID]; ok {
		delete(a.byTask, taskID)
		delete(a.byPort, p)
	}
}

// HostPort returns taskID's port.
func (a *Allocator) HostPort(taskID string) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.byTask[taskID]
	return p, ok
}

// Restore reserves ports already in use by tasks (found with
// PortsFromContainers when terok-web starts), without probing them: their
// containers hold them. Every entry is checked before any is taken: a port
// outside the range or claimed by two tasks is an error and nothing
// changes.
func (a *Allocator) Restore(assigned map[string]int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	tasks := make([]string, 0, len(assigned))
	for t := range assigned {
		tasks = append(tasks, t)
	}
	sort.Strings(tasks)
	seen := map[int]string{}
	for _, t := range tasks {
		p := assigned[t]
		if p < a.first || p > a.last {
			return fmt.Errorf("%w: task %s has port %d, outside %d-%d", ErrBadPort, t, p, a.first, a.last)
		}
		if o, ok := seen[p]; ok {
			return fmt.Errorf("%w: port %d is claimed by tasks %s and %s", ErrBadPort, p, o, t)
		}
		if o, ok := a.byPort[p]; ok && o != t {
			return fmt.Errorf("%w: port %d of task %s is already given to task %s", ErrBadPort, p, t, o)
		}
		seen[p] = t
	}
	for _, t := range tasks {
		if old, ok := a.byTask[t]; ok {
			delete(a.byPort, old)
		}
		a.byTask[t], a.byPort[assigned[t]] = assigned[t], t
	}
	return nil
}

// PortsFromContainers reads the web ports of task containers: for each
// container with taskLabel (the label holding the task id) and a valid
// LabelWebPort, task id → port. Give it every container (ListOptions{All:
// true}): a stopped web task keeps its port until it is released.
func PortsFromContainers(cs []podmanapi.ContainerSummary, taskLabel string) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		t, p := c.Labels[taskLabel], c.Labels[LabelWebPort]
		if t == "" || p == "" {
			continue
		}
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n <= 65535 {
			out[t] = n
		}
	}
	return out
}
