package smarthttp

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
)

// errRecorder remembers the first error of reading a request body other
// than its end and the gate's own size limit: a body cut off, corrupt
// gzip, a broken chunked encoding, a timeout. Each is the client's doing.
type errRecorder struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, ErrTooLarge) {
		e.mu.Lock()
		if e.err == nil {
			e.err = err
		}
		e.mu.Unlock()
	}
	return n, err
}

func (e *errRecorder) failed() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// bodyErrorMessage says what was wrong with a request body that could not
// be read to its end.
func bodyErrorMessage(err error) string {
	var ce flate.CorruptInputError
	switch {
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &ce):
		return "request body is not valid gzip: " + err.Error()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body ends early (cut off, or its gzip stream is truncated)"
	}
	return "request body could not be read: " + err.Error()
}

// clientFaults are what git says, on stderr, when it refuses a request's
// content (git 2.39; upload-pack, serve.c, ls-refs, list-objects-filter,
// receive-pack). git runs with LC_ALL=C, so they are not translated.
var clientFaults = []string{
	"protocol error",
	"the remote end hung up unexpectedly",
	"no command requested",
	"invalid command '",
	"unknown capability '",
	"unexpected line: '",
	"expected flush after",
	"requested after already requesting command",
	"Invalid deepen",
	"invalid shallow line",
	"invalid filter-spec",
	"expected 'tree:<depth>'",
	"sparse:path filters support has been dropped",
	"is not a valid object type",
	"expected something after combine:",
	"must escape char in sub-filter-spec",
	"not our ref",
	"deepen-not",
	"expected SHA1 object",
	"expected SHA1 list",
	"filtering capability not negotiated",
	"mismatched object format",
	"unknown object format",
	"unable to access sparse blob",
	"bad pack header",
	"pack signature mismatch",
	"pack version",
}

// clientFault looks at git's first "fatal:" or "error:" line in stderr
// (the cause; later lines are consequences) and reports whether it
// refuses the client's request; line is the message without its prefix.
func clientFault(stderr string) (line string, ok bool) {
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		msg, found := strings.CutPrefix(l, "fatal: ")
		if !found {
			msg, found = strings.CutPrefix(l, "error: ")
		}
		if !found {
			continue
		}
		for _, f := range clientFaults {
			if strings.Contains(msg, f) {
				return truncate(msg, 300), true
			}
		}
		return "", false
	}
	return "", false
}

// RefusalBody renders the listener limits' refusals the gate's way: one
// text/plain line, which git prints as "remote: terok-gate: …".
func RefusalBody(r listenlimit.Refusal) (string, []byte) {
	url := "http://<token>@<host>:9418/<project>.git"
	retry := int(r.RetryAfter.Seconds())
	var msg string
	switch r.Limit {
	case listenlimit.LimitPerCredential:
		msg = fmt.Sprintf("too many connections with this token at once (the limit is %d per token, "+
			"listener.max_conns_per_credential); let some finish, or retry in %ds", r.Max, retry)
	case listenlimit.LimitCredentialed:
		msg = fmt.Sprintf("too many connections with tokens at once (the limit is %d in all, "+
			"listener.max_credentialed_conns); retry in %ds", r.Max, retry)
	case listenlimit.LimitUncredentialed:
		msg = fmt.Sprintf("too many connections without a valid token at once (the limit is %d, "+
			"listener.max_uncredentialed_conns); send the token with the request: %s", r.Max, url)
	default:
		msg = r.Message
	}
	return "text/plain; charset=utf-8", []byte("terok-gate: " + msg + "\n")
}
