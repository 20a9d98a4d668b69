package shieldapi

import "time"

// Mode is the shield state of one container.
type Mode string

// The three shield states.
const (
	// ModeUp is default-deny: only allowlisted destinations are reached.
	ModeUp Mode = "up"
	// ModeDown allows everything except private ranges and logs each new connection.
	ModeDown Mode = "down"
	// ModeBlock drops every packet except loopback.
	ModeBlock Mode = "block"
	// ModeOpen is the minimal ruleset of a task whose project runs without
	// the shield (annotation terok.shield=open): everything is reachable
	// but the host side, where only terok's endpoints answer.
	ModeOpen Mode = "open"
)

// Valid reports whether m names one of the shield states.
func (m Mode) Valid() bool { return m == ModeUp || m == ModeDown || m == ModeBlock || m == ModeOpen }

// ResolverAddr is the address of the resolver the shield serves inside
// every armed task's network namespace (port 53, UDP and TCP). A task
// container must be created with it as its only nameserver: Podman's
// `--dns 127.0.0.53`, or dns_server in a container spec. Every other
// address on port 53 (and DNS over TLS, 853) is refused.
const ResolverAddr = "127.0.0.53"

// Annotation keys the OCI hook reads from a container.
const (
	AnnotationShield   = "terok.shield"          // "on" arms the container; "open" gives a task without the shield the minimal ruleset
	AnnotationProject  = "terok.project"         // project name, for status and audit
	AnnotationProfiles = "terok.shield.profiles" // comma list of profile names
	AnnotationAllow    = "terok.shield.allow"    // comma list of domains, IPs, CIDRs
	AnnotationPorts    = "terok.shield.ports"    // comma list of inbound TCP ports (task web ports)
	AnnotationMode     = "terok.shield.mode"     // initial mode: up (default), down or block
	// AnnotationDeny is the task's deny list: a comma list of names
	// (and wildcards *.example.com), addresses and CIDRs the task may
	// never reach, whatever allows them (profiles, allow entries, live
	// allows, down mode). It applies to tasks without the shield
	// (terok.shield=open) too. Build its value with DenyValue.
	AnnotationDeny = "terok.shield.deny"
)

// Values of AnnotationShield.
const (
	ShieldOn   = "on"   // the shield: default-deny
	ShieldOpen = "open" // no shield for the project: only the host side is guarded (ModeOpen)
)

// ArmRequest asks the daemon to arm (or re-arm) a container. Sent by the hook
// at createRuntime.
type ArmRequest struct {
	ID       string   `json:"id"`
	PID      int      `json:"pid"`
	Project  string   `json:"project,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
	Allow    []string `json:"allow,omitempty"`
	Ports    []uint16 `json:"ports,omitempty"`
	Mode     Mode     `json:"mode,omitempty"`
	// Deny is the task's deny list (AnnotationDeny): names, wildcards,
	// addresses and CIDRs withheld from it whatever allows them.
	Deny []string `json:"deny,omitempty"`
}

// TargetRequest is the body of allow and deny.
type TargetRequest struct {
	Target string `json:"target"`
	// For limits an allow to a duration ("10m"); empty means until denied.
	For string `json:"for,omitempty"`
}

// ModeRequest switches a container's shield state.
type ModeRequest struct {
	Mode Mode `json:"mode"`
}

// Entry is one live allow or deny of a container.
type Entry struct {
	Target  string     `json:"target"`
	Expires *time.Time `json:"expires,omitempty"`
}

// Status describes one armed container.
type Status struct {
	ID       string   `json:"id"`
	PID      int      `json:"pid"`
	Project  string   `json:"project,omitempty"`
	Mode     Mode     `json:"mode"`
	Profiles []string `json:"profiles,omitempty"`
	Static   []string `json:"static,omitempty"` // annotation entries
	Allowed  []Entry  `json:"allowed,omitempty"`
	Denied   []Entry  `json:"denied,omitempty"`
	Ports    []uint16 `json:"ports,omitempty"`
	Ranges4  int      `json:"ranges4"`            // intervals in the IPv4 allow set
	Ranges6  int      `json:"ranges6"`            // intervals in the IPv6 allow set
	Answers  int      `json:"answers"`            // addresses allowed by the task resolver's answers (dns4/dns6)
	Resolver string   `json:"resolver,omitempty"` // the task's resolver (ResolverAddr) when it has one
	Blocked  uint64   `json:"blocked"`            // blocked connections seen since arming
	// Unshielded: the container was armed with the minimal ruleset of a
	// task without the shield (mode open, or block after a panic).
	Unshielded bool `json:"unshielded,omitempty"`
	// Reason says why the daemon put the container in block mode by
	// itself (its state failed the checks, or re-arming it failed after a
	// daemon restart); empty otherwise.
	Reason string `json:"reason,omitempty"`
	// DenyList is the task's own deny list (AnnotationDeny), DenyGlobal
	// the daemon's (deny_names in its config.json, for every task). Their
	// names are refused by the task's resolver and the addresses the
	// daemon resolves for them are refused by the rules, in every mode;
	// a live allow cannot lift them.
	DenyList   []string `json:"deny_list,omitempty"`
	DenyGlobal []string `json:"deny_global,omitempty"`
	// DroppedLookups counts queries the task's resolver dropped unanswered
	// (the task asked faster than its limits).
	DroppedLookups uint64    `json:"dropped_lookups,omitempty"`
	ArmedAt        time.Time `json:"armed_at"`
	ArmMillis      float64   `json:"arm_ms"` // time the last arm took, rule load included
}

// PanicResult lists the containers a panic set to block.
type PanicResult struct {
	Blocked []string `json:"blocked"`
	Failed  []string `json:"failed,omitempty"`
}

// Rules is the live ruleset of a container, read back over netlink.
type Rules struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Profile describes one allowlist profile.
type Profile struct {
	Name    string `json:"name"`
	Source  string `json:"source"` // "bundled" or the file path
	Entries int    `json:"entries"`
	Shadows bool   `json:"shadows,omitempty"` // a user file replacing a bundled one
	Error   string `json:"error,omitempty"`   // why the profile does not load (containers naming it will not start)
}

// Audit event kinds.
const (
	EventArmed        = "armed"
	EventDisarmed     = "disarmed"
	EventAllow        = "allow"
	EventDeny         = "deny"
	EventLapsed       = "lapsed"
	EventMode         = "mode"
	EventResolved     = "re-resolved"
	EventBlocked      = "blocked"
	EventConnection   = "connection"     // a new connection: allowed (receipts) or seen in down mode
	EventLookup       = "lookup"         // a name the task's resolver answered (target name, detail addresses)
	EventRefused      = "lookup-refused" // a name the task's resolver refused (not allowed or denied)
	EventDropped      = "lookup-dropped" // queries the task's resolver dropped over its limits (a count, at most one record a second)
	EventRearmFailed  = "rearm-failed"   // re-arming after a daemon restart failed: the container is blocked
	EventStateRefused = "state-refused"  // a state file failed the checks of an arm request: not restored as written
)

// Event is one audit record (one JSON line of the audit log).
type Event struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target,omitempty"`
	Dest      string    `json:"dest,omitempty"`
	Port      uint16    `json:"port,omitempty"`
	Proto     string    `json:"proto,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}
