package smarthttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
)

// maxPkt is the largest pkt-line git sends (length header included).
const maxPkt = 65520

// Special packets (a length of 0, 1 or 2 with no payload).
const (
	pktFlush       = 0
	pktDelim       = 1
	pktResponseEnd = 2
)

// protocolVersion is the protocol a Git-Protocol header asks for: the
// highest "version=N" among its colon-separated entries, as git reads
// GIT_PROTOCOL; 0 without one.
func protocolVersion(header string) int {
	v := 0
	for _, e := range strings.Split(header, ":") {
		switch e {
		case "version=1":
			v = max(v, 1)
		case "version=2":
			v = 2
		}
	}
	return v
}

// uploadRequest hands an upload-pack request body to git one whole
// pkt-line at a time, each only after it passed the checks below, so git
// never sees a line the gate can tell is wrong, and a wrong one is
// answered 400 naming it.
//
// Protocol v0/v1 (stateless): want, shallow, deepen, deepen-since,
// deepen-not and filter lines, a flush, then have lines ending with
// "done" or a flush. Protocol v2: capability lines with exactly one
// command=NAME, then optionally a delim and the command's arguments, then
// a flush. What follows the request's end is not passed on (git would
// not read it).
//
// The checks are a floor, not git's whole grammar: an argument or
// capability the gate does not know (a newer git may know it) goes to
// git, which answers for it. Only the syntax of what the gate does know
// is checked: object ids, positive depths and times, filter specs, and
// the packet structure.
type uploadRequest struct {
	r  io.Reader
	v2 bool

	hdr  [4]byte
	line []byte // the packet being handed out
	off  int
	pkts int // packets read

	// where the request stands
	section int // v0: 0 wants, 1 haves; v2: 0 capabilities, 1 arguments
	command string
	wants   bool
	haves   int
	done    bool

	// err is sticky and wraps ErrMalformed; the handler reads it from
	// another goroutine (failed).
	mu  sync.Mutex
	err error
}

// failed returns the request's error, nil while it is well-formed.
func (u *uploadRequest) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func newUploadRequest(r io.Reader, protocol string) *uploadRequest {
	// Packets are read a header at a time; the buffer saves the reads
	// beneath (each pushes the body's deadline forward).
	return &uploadRequest{r: bufio.NewReaderSize(r, 64<<10), v2: protocolVersion(protocol) == 2}
}

// Read implements io.Reader.
func (u *uploadRequest) Read(p []byte) (int, error) {
	for u.off >= len(u.line) {
		if err := u.failed(); err != nil {
			return 0, err
		}
		if u.done {
			return 0, io.EOF
		}
		if err := u.next(); err != nil {
			if !errors.Is(err, ErrMalformed) {
				return 0, err // the body's own error (limit, timeout, gzip)
			}
			u.mu.Lock()
			u.err = err
			u.mu.Unlock()
			return 0, err
		}
	}
	n := copy(p, u.line[u.off:])
	u.off += n
	return n, nil
}

func (u *uploadRequest) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// next reads and checks one packet into u.line.
func (u *uploadRequest) next() error {
	if _, err := io.ReadFull(u.r, u.hdr[:]); err != nil {
		switch {
		case err == io.EOF && !u.v2 && u.section == 1 && u.haves == 0:
			// Wants and a flush alone: a shallow fetch asks for the
			// shallow lines first, in a request of its own.
			u.done = true
			u.line, u.off = u.line[:0], 0
			return nil
		case err == io.EOF && u.pkts == 0:
			return u.fail("empty upload-pack request; it holds want lines (protocol v0) or a command (protocol v2)")
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return u.fail("the request ends %s", u.where())
		}
		return err
	}
	l, ok := parseHex4(u.hdr[:])
	if !ok {
		return u.fail("bad pkt-line length %q", u.hdr[:])
	}
	if l == 3 || l > maxPkt {
		return u.fail("pkt-line length %d out of range", l)
	}
	u.pkts++
	u.off = 0
	if l <= pktResponseEnd {
		u.line = append(u.line[:0], u.hdr[:]...)
		return u.special(l)
	}
	if l == 4 {
		return u.fail("empty pkt-line %s", u.where())
	}
	if cap(u.line) < l {
		u.line = make([]byte, 0, max(l, 1024))
	}
	u.line = append(u.line[:0], u.hdr[:]...)[:l]
	const start = 4
	if _, err := io.ReadFull(u.r, u.line[start:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return u.fail("the request ends inside a pkt-line")
		}
		return err
	}
	payload := u.line[start:]
	if bytes.IndexByte(payload, 0) >= 0 {
		return u.fail("NUL byte in the line %q", truncate(string(payload), 100))
	}
	line := strings.TrimSuffix(string(payload), "\n")
	if u.v2 {
		return u.lineV2(line)
	}
	return u.lineV0(line)
}

// where names the current section for messages.
func (u *uploadRequest) where() string {
	switch {
	case u.v2 && u.section == 0:
		return "before the end of its capability list (flush 0000 or delim 0001)"
	case u.v2:
		return "before the flush (0000) that ends the arguments"
	case u.section == 0:
		return "before the flush (0000) that ends the want lines"
	}
	return `before "done" or the flush (0000) that ends the have lines`
}

func (u *uploadRequest) special(l int) error {
	switch {
	case l == pktResponseEnd:
		return u.fail("response-end packet (0002) in a request")
	case !u.v2 && l == pktDelim:
		return u.fail("delim packet (0001) in a protocol v0 request")
	case !u.v2: // flush
		if u.section == 0 {
			if !u.wants {
				return u.fail("the request has no want line")
			}
			u.section = 1
			return nil
		}
		u.done = true
		return nil
	case u.section == 0 && u.command == "":
		return u.fail("no command=… line before the %s", map[int]string{pktFlush: "flush (0000)", pktDelim: "delim (0001)"}[l])
	case l == pktDelim && u.section == 1:
		return u.fail("a second delim packet (0001); the arguments end with a flush (0000)")
	case l == pktDelim:
		u.section = 1
		return nil
	case u.command == "fetch" && !u.wants:
		return u.fail("fetch without a want or want-ref line")
	}
	u.done = true
	return nil
}

func (u *uploadRequest) lineV0(line string) error {
	if u.section == 1 {
		switch {
		case line == "done":
			u.done = true
			return nil
		case strings.HasPrefix(line, "have "):
			u.haves++
			return checkOID(u, "have", strings.TrimPrefix(line, "have "))
		}
		return u.fail(`expected "have <object id>" or "done", not %q`, truncate(line, 100))
	}
	if rest, ok := strings.CutPrefix(line, "want "); ok {
		oid, _, _ := strings.Cut(rest, " ") // capabilities follow the first want
		u.wants = true
		return checkOID(u, "want", oid)
	}
	if ok, err := u.shallowArg(line); ok {
		return err
	}
	return u.fail("expected want, shallow, deepen, deepen-since, deepen-not or filter, not %q", truncate(line, 100))
}

// shallowArg checks the lines both protocols share for shallow and
// partial fetches; ok reports whether line was one of them.
func (u *uploadRequest) shallowArg(line string) (ok bool, err error) {
	word, arg, _ := strings.Cut(line, " ")
	switch word {
	case "shallow":
		return true, checkOID(u, word, arg)
	case "deepen", "deepen-since":
		if !positive(arg) {
			return true, u.fail("%s wants a positive whole number, not %q", word, truncate(arg, 40))
		}
		return true, nil
	case "deepen-not":
		if arg == "" {
			return true, u.fail("deepen-not wants a ref")
		}
		return true, nil
	case "filter":
		if err := checkFilter(arg); err != nil {
			return true, u.fail("filter %q: %v", truncate(arg, 100), err)
		}
		return true, nil
	}
	return false, nil
}

// fetchWords are the v2 fetch arguments without a value.
var fetchWords = map[string]bool{"done": true, "thin-pack": true, "no-progress": true, "include-tag": true,
	"ofs-delta": true, "deepen-relative": true, "sideband-all": true, "wait-for-done": true}

func (u *uploadRequest) lineV2(line string) error {
	if u.section == 0 {
		key, val, hasVal := strings.Cut(line, "=")
		if !capName(key) {
			return u.fail("bad capability line %q (want key or key=value)", truncate(line, 100))
		}
		if key != "command" {
			return nil // git knows which capabilities it takes
		}
		if u.command != "" {
			return u.fail("a second command (%s after %s)", truncate(val, 40), u.command)
		}
		if !hasVal || !capName(val) {
			return u.fail("bad command %q", truncate(val, 40))
		}
		u.command = val
		return nil
	}
	word, arg, hasArg := strings.Cut(line, " ")
	switch u.command {
	case "fetch":
		switch {
		case word == "want" || word == "have":
			u.wants = u.wants || word == "want"
			return checkOID(u, word, arg)
		case fetchWords[word]:
			if hasArg {
				return u.fail("%s takes no value", word)
			}
			return nil
		case word == "want-ref":
			if arg == "" {
				return u.fail("want-ref wants a ref")
			}
			u.wants = true
			return nil
		}
		if ok, err := u.shallowArg(line); ok {
			return err
		}
	case "ls-refs":
		if word == "ref-prefix" && !hasArg {
			return u.fail("ref-prefix wants a prefix")
		}
	case "object-info":
		if word == "oid" {
			return checkOID(u, word, arg)
		}
	}
	return nil // an argument the gate does not know: git's to judge
}

// capName reports whether s is a capability or command name: lower-case
// letters, digits and '-'.
func capName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkOID(u *uploadRequest, word, s string) error {
	if (len(s) != 40 && len(s) != 64) || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
		return u.fail("%s wants an object id (40 or 64 hex digits), not %q", word, truncate(s, 80))
	}
	return nil
}

// positive reports whether s is a whole number from 1 to 2^31-1.
func positive(s string) bool {
	if s == "" || len(s) > 10 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n > 0 && n < 1<<31
}

// checkFilter checks a filter spec as git parses it: blob:none,
// blob:limit=N[kmg], tree:N[kmg], object:type=T, sparse:oid=X, and
// combine:A+B with each part %-encoded.
func checkFilter(spec string) error {
	return checkFilterDepth(spec, 0)
}

func checkFilterDepth(spec string, depth int) error {
	if depth > 8 {
		return errors.New("combine: nested too deep")
	}
	switch {
	case spec == "blob:none":
		return nil
	case strings.HasPrefix(spec, "blob:limit="):
		if !sizeNumber(strings.TrimPrefix(spec, "blob:limit=")) {
			return errors.New("blob:limit= wants a size like 1000, 10k, 1m or 1g")
		}
		return nil
	case strings.HasPrefix(spec, "tree:"):
		if !sizeNumber(strings.TrimPrefix(spec, "tree:")) {
			return errors.New("tree: wants a depth like 0 or 1")
		}
		return nil
	case strings.HasPrefix(spec, "object:type="):
		switch strings.TrimPrefix(spec, "object:type=") {
		case "blob", "tree", "commit", "tag":
			return nil
		}
		return errors.New("object:type= wants blob, tree, commit or tag")
	case strings.HasPrefix(spec, "sparse:oid="):
		if spec == "sparse:oid=" {
			return errors.New("sparse:oid= wants an object")
		}
		return nil
	case strings.HasPrefix(spec, "combine:"):
		parts := strings.Split(strings.TrimPrefix(spec, "combine:"), "+")
		for _, p := range parts {
			if p == "" {
				return errors.New("combine: has an empty part")
			}
			sub, err := url.PathUnescape(p)
			if err != nil {
				return fmt.Errorf("combine: part %q is not %%-encoded right", truncate(p, 40))
			}
			if err := checkFilterDepth(sub, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("unknown filter; use blob:none, blob:limit=N, tree:N, object:type=T, sparse:oid=X or combine:A+B")
}

// sizeNumber reports whether s is digits with an optional k, m or g
// (either case), as git_parse_ulong takes them.
func sizeNumber(s string) bool {
	if n := len(s); n > 0 && strings.ContainsRune("kmgKMG", rune(s[n-1])) {
		s = s[:n-1]
	}
	return s != "" && len(s) <= 19 && strings.Trim(s, "0123456789") == ""
}

func parseHex4(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			n |= int(c-'A') + 10
		default:
			return 0, false
		}
	}
	return n, true
}
