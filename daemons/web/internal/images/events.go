package images

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Event kinds a build reports, in the order they come.
const (
	// EventLayer: a layer's build starts (Layer, Ref, Hash).
	EventLayer = "layer"
	// EventReused: a layer is reused by its hash, nothing built (Layer, Ref, ImageID).
	EventReused = "reused"
	// EventStep: a Containerfile step starts (Step, Steps, Text).
	EventStep = "step"
	// EventStepDone: the step before ended (Step, Duration, Cached).
	EventStepDone = "step-done"
	// EventOutput: one line of a step's output (Line).
	EventOutput = "output"
	// EventBuilt: a layer is built and tagged (Layer, Ref, ImageID, Duration).
	EventBuilt = "built"
	// EventFailed: a layer failed (Layer, Step, Text, Lines, Error).
	EventFailed = "failed"
	// EventResolved: a package version was resolved (Agent, Text "pkg@range", Version).
	EventResolved = "resolved"
)

// Event is one piece of a build's progress, for the CLI and the project
// page; Progress callbacks get them in order, from the build's goroutine.
type Event struct {
	Kind     string        `json:"kind"`
	Project  string        `json:"project"`
	Layer    string        `json:"layer,omitempty"`
	Ref      string        `json:"ref,omitempty"`
	Hash     string        `json:"hash,omitempty"`
	ImageID  string        `json:"image_id,omitempty"`
	Step     int           `json:"step,omitempty"`
	Steps    int           `json:"steps,omitempty"`
	Text     string        `json:"text,omitempty"`
	Line     string        `json:"line,omitempty"`
	Cached   bool          `json:"cached,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Agent    string        `json:"agent,omitempty"`
	Version  string        `json:"version,omitempty"`
	Lines    []string      `json:"lines,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// TailLines is how many output lines a failure keeps.
const TailLines = 20

var stepRE = regexp.MustCompile(`^STEP (\d+)/(\d+): (.*)$`)

// maxLine cuts one output line (a progress bar without line ends must
// not grow without bound).
const maxLine = 4096

// stepTracker turns Podman's build stream, which arrives in pieces not
// cut at line ends, into step and output events, and keeps the current
// step and its last output lines for a failure report.
type stepTracker struct {
	emit    func(Event)
	now     func() time.Time
	partial strings.Builder
	cr      bool // the last byte was a carriage return
	step    int
	steps   int
	text    string
	started time.Time
	cached  bool
	tail    []string
}

func (t *stepTracker) feed(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case t.cr && c == '\n':
			t.cr = false
			t.line(t.partial.String())
			t.partial.Reset()
		case t.cr:
			// A lone carriage return: a progress line redrawn over itself.
			t.cr = false
			t.partial.Reset()
			i--
		case c == '\r':
			t.cr = true
		case c == '\n':
			t.line(t.partial.String())
			t.partial.Reset()
		case t.partial.Len() < maxLine:
			t.partial.WriteByte(c)
		}
	}
}

// flush ends the stream: a last line without its line end counts.
func (t *stepTracker) flush() {
	if t.partial.Len() > 0 {
		t.line(t.partial.String())
		t.partial.Reset()
	}
}

func (t *stepTracker) line(l string) {
	l = strings.TrimRight(l, " \t")
	if l == "" {
		return
	}
	if m := stepRE.FindStringSubmatch(l); m != nil {
		t.endStep()
		t.step, _ = strconv.Atoi(m[1])
		t.steps, _ = strconv.Atoi(m[2])
		t.text, t.started, t.cached, t.tail = m[3], t.now(), false, nil
		t.emit(Event{Kind: EventStep, Step: t.step, Steps: t.steps, Text: t.text})
		return
	}
	if strings.HasPrefix(l, "--> Using cache ") {
		t.cached = true
	}
	t.tail = append(t.tail, l)
	if len(t.tail) > TailLines {
		t.tail = t.tail[len(t.tail)-TailLines:]
	}
	t.emit(Event{Kind: EventOutput, Step: t.step, Line: l})
}

// endStep reports the running step's end.
func (t *stepTracker) endStep() {
	if t.step == 0 {
		return
	}
	t.emit(Event{Kind: EventStepDone, Step: t.step, Steps: t.steps, Text: t.text, Duration: t.now().Sub(t.started), Cached: t.cached})
	t.step = 0
}
