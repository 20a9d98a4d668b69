package listenlimit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits are the settings of one listener. The zero value is not usable;
// start from Default.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request.
	IdleTimeout time.Duration
	// ReadTimeout and WriteTimeout bound a whole request and a whole
	// answer; 0 sets none. A listener that streams (git packs, event
	// streams, WebSockets) leaves them 0 and lets its handler push
	// per-read and per-write deadlines forward instead.
	ReadTimeout, WriteTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (Go allows 4 KiB more).
	MaxHeaderBytes int
	// UncredentialedTimeout bounds the whole of a request without a valid
	// credential, from its headers to the end of its answer.
	UncredentialedTimeout time.Duration
	// MaxUncredentialedBodyBytes bounds the body a handler may read from a
	// request without a valid credential (a login form).
	MaxUncredentialedBodyBytes int64
	// MaxUncredentialedConns bounds the connections without a valid
	// credential: those waiting for their first request and those whose
	// request carries none.
	MaxUncredentialedConns int
	// MaxConnsPerCredential bounds the connections bound to one credential.
	MaxConnsPerCredential int
	// MaxCredentialedConns bounds the connections bound to any credential.
	MaxCredentialedConns int
}

// Default returns the built-in limits. Why each number (docs/security.md
// repeats this for users):
//
//   - ReadHeaderTimeout 10s: git and browsers send the whole header block
//     at once; ten seconds covers a slow link and bounds how long a
//     connection can sit without saying who it is.
//   - IdleTimeout 60s: an idle keep-alive connection counts against its
//     credential; git reuses a connection within milliseconds and a
//     browser within seconds, and a minute frees the slot soon after.
//   - ReadTimeout, WriteTimeout 0: clones, pushes, event streams and
//     WebSockets run for minutes; handlers use idle deadlines instead.
//   - MaxHeaderBytes 64 KiB: git sends under 1 KiB of headers, a browser
//     a few KiB of cookies; Go's own default is 1 MiB, and 64 KiB keeps
//     each waiting connection's buffer small.
//   - UncredentialedTimeout 10s: such a request gets a short answer (401,
//     a login page); nothing it may do needs longer.
//   - MaxUncredentialedBodyBytes 64 KiB: a login form or JSON login body
//     is a few hundred bytes.
//   - MaxUncredentialedConns 64: every new connection is here until its
//     headers arrive, which for an honest client is a matter of
//     milliseconds, so 64 absorbs many clients starting at once; one
//     client holding them all costs 64 descriptors, and the oldest are
//     closed for newcomers.
//   - MaxConnsPerCredential 16: one git command uses one connection at a
//     time, a browser up to six per origin plus its WebSockets; 16 leaves
//     room for parallel commands while one task holding all of them costs
//     16 descriptors (and at most 16 git processes).
//   - MaxCredentialedConns 256: bounds the descriptors and processes all
//     credentials together can hold; 16 credentials must all be at their
//     limit to reach it, far below the process's descriptor limit.
func Default() Limits {
	return Limits{
		ReadHeaderTimeout:          10 * time.Second,
		IdleTimeout:                60 * time.Second,
		MaxHeaderBytes:             64 << 10,
		UncredentialedTimeout:      10 * time.Second,
		MaxUncredentialedBodyBytes: 64 << 10,
		MaxUncredentialedConns:     64,
		MaxConnsPerCredential:      16,
		MaxCredentialedConns:       256,
	}
}

// setting is one field of Limits with its JSON key and environment suffix.
type setting struct {
	key string // JSON key; upper-cased, the environment suffix
	dur *time.Duration
	num *int
	big *int64
	// zeroOK: 0 turns the setting off instead of being invalid.
	zeroOK bool
}

func (l *Limits) settings() []setting {
	return []setting{
		{key: "read_header_timeout", dur: &l.ReadHeaderTimeout},
		{key: "idle_timeout", dur: &l.IdleTimeout},
		{key: "read_timeout", dur: &l.ReadTimeout, zeroOK: true},
		{key: "write_timeout", dur: &l.WriteTimeout, zeroOK: true},
		{key: "max_header_bytes", num: &l.MaxHeaderBytes},
		{key: "uncredentialed_timeout", dur: &l.UncredentialedTimeout},
		{key: "max_uncredentialed_body_bytes", big: &l.MaxUncredentialedBodyBytes},
		{key: "max_uncredentialed_conns", num: &l.MaxUncredentialedConns},
		{key: "max_conns_per_credential", num: &l.MaxConnsPerCredential},
		{key: "max_credentialed_conns", num: &l.MaxCredentialedConns},
	}
}

// Keys lists the JSON keys of Limits (the environment names are the same
// upper-cased behind a daemon's prefix), for docs and error messages.
func Keys() []string {
	var l Limits
	var out []string
	for _, s := range l.settings() {
		out = append(out, s.key)
	}
	return out
}

// Validate reports the first limit that cannot work.
func (l Limits) Validate() error {
	for _, s := range l.settings() {
		var v int64
		switch {
		case s.dur != nil:
			v = int64(*s.dur)
		case s.num != nil:
			v = int64(*s.num)
		default:
			v = *s.big
		}
		if v < 0 || (v == 0 && !s.zeroOK) {
			return fmt.Errorf("%w: %s must be positive", ErrInvalid, s.key)
		}
	}
	if l.MaxConnsPerCredential > l.MaxCredentialedConns {
		return fmt.Errorf("%w: max_conns_per_credential (%d) is above max_credentialed_conns (%d)",
			ErrInvalid, l.MaxConnsPerCredential, l.MaxCredentialedConns)
	}
	return nil
}

// set parses one value: a duration like "10s" for durations (a bare
// number counts as seconds), an integer otherwise.
func (s setting) set(v string) error {
	v = strings.TrimSpace(v)
	switch {
	case s.dur != nil:
		d, err := time.ParseDuration(v)
		if err != nil {
			n, nerr := strconv.ParseInt(v, 10, 64)
			if nerr != nil {
				return fmt.Errorf("%s: %q is not a duration like 10s", s.key, v)
			}
			d = time.Duration(n) * time.Second
		}
		*s.dur = d
	case s.num != nil:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number", s.key, v)
		}
		*s.num = n
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number", s.key, v)
		}
		*s.big = n
	}
	return nil
}

// ApplyEnv overlays the environment read through getenv: for each key the
// variable prefix + KEY upper-cased, e.g. TEROK_GATE_ + MAX_CONNS_PER_CREDENTIAL.
func (l *Limits) ApplyEnv(prefix string, getenv func(string) string) error {
	for _, s := range l.settings() {
		name := prefix + strings.ToUpper(s.key)
		v := getenv(name)
		if v == "" {
			continue
		}
		if err := s.set(v); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
		}
	}
	return nil
}

// UnmarshalJSON overlays the keys present in b on l: durations as strings
// like "10s", sizes and counts as numbers. Unknown keys are errors.
func (l *Limits) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return err
	}
	byKey := map[string]setting{}
	for _, s := range l.settings() {
		byKey[s.key] = s
	}
	for k, raw := range m {
		s, ok := byKey[k]
		if !ok {
			return fmt.Errorf("unknown listener limit %q (known: %s)", k, strings.Join(Keys(), ", "))
		}
		var str string
		if s.dur != nil {
			if err := json.Unmarshal(raw, &str); err != nil {
				return fmt.Errorf("%s: a duration is a string like \"10s\"", k)
			}
		} else {
			var n json.Number
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&n); err != nil {
				return fmt.Errorf("%s: want a whole number", k)
			}
			str = n.String()
		}
		if err := s.set(str); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON writes every limit, durations as strings like "10s".
func (l Limits) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for _, s := range l.settings() {
		switch {
		case s.dur != nil:
			m[s.key] = s.dur.String()
		case s.num != nil:
			m[s.key] = *s.num
		default:
			m[s.key] = *s.big
		}
	}
	return json.Marshal(m)
}
