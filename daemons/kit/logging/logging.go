// Package logging builds the one zerolog logger a terok binary uses.
//
// The logger writes JSON when its output is not a terminal (so supervisors
// and `docker logs` get machine-readable lines) and a readable console format
// when it is. The level comes from TEROK_LOG_LEVEL (trace, debug, info, warn,
// error); an unknown value is reported and info is used.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// EnvLevel is the environment variable that sets the log level.
const EnvLevel = "TEROK_LOG_LEVEL"

// New returns a logger for the component name writing to w. The level is
// read from TEROK_LOG_LEVEL; an invalid value yields an error alongside a
// usable info-level logger, so callers can report it and carry on.
func New(w io.Writer, component string) (zerolog.Logger, error) {
	level, err := ParseLevel(os.Getenv(EnvLevel))
	out := w
	if isTerminal(w) {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	log := zerolog.New(out).Level(level).With().Timestamp().Str("component", component).Logger()
	return log, err
}

// ParseLevel maps a level name to a zerolog level. The empty string is info.
func ParseLevel(s string) (zerolog.Level, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return zerolog.InfoLevel, nil
	}
	if s == "warning" {
		s = "warn"
	}
	l, err := zerolog.ParseLevel(s)
	if err != nil || l == zerolog.NoLevel {
		return zerolog.InfoLevel, fmt.Errorf("%s=%q is not a log level; use trace, debug, info, warn or error", EnvLevel, s)
	}
	return l, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
