package server

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// ReadFile is Python supervisor's readFile: a negative offset with length 0
// reads the last -offset bytes; otherwise length bytes (0: all) from
// offset. Errors are the BAD_ARGUMENTS and FAILED faults.
func ReadFile(path string, offset, length int64) (string, error) {
	if (offset < 0 && length != 0) || (offset >= 0 && length < 0) {
		return "", fault(FaultBadArguments, "")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fault(FaultFailed, "")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fault(FaultFailed, "")
	}
	size := st.Size()
	var start, n int64
	if offset < 0 {
		start = max(size+offset, 0)
		n = -offset
	} else {
		start = offset
		n = length
		if length == 0 {
			n = size - offset
		}
	}
	if start >= size || n <= 0 {
		return "", nil
	}
	n = min(n, size-start)
	b := make([]byte, n)
	k, _ := f.ReadAt(b, start)
	return string(b[:k]), nil
}

// TailFile is Python supervisor's tailFile: at most length bytes ending at
// the end of the file, the new offset (the file size) and whether bytes
// between offset and the returned data were skipped.
func TailFile(path string, offset, length int64) (string, int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", offset, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", offset, false
	}
	sz := st.Size()
	overflow := false
	if sz > offset+length {
		overflow = true
		offset = sz - 1
	}
	if offset+length > sz {
		if offset > sz-1 {
			length = 0
		}
		offset = sz - length
	}
	offset = max(offset, 0)
	length = max(length, 0)
	if length == 0 {
		return "", sz, overflow
	}
	b := make([]byte, length)
	k, _ := f.ReadAt(b, offset)
	return string(b[:k]), sz, overflow
}

// logtail serves GET /logtail/<name>[/stdout|/stderr] and /mainlogtail:
// the last KiB of the file, then every new byte until the client leaves.
func (r *RPC) logtail(w http.ResponseWriter, req *http.Request) {
	var path string
	if req.URL.Path == "/mainlogtail" {
		path = r.s.mainLog
	} else {
		rest := strings.TrimPrefix(req.URL.Path, "/logtail/")
		name, stream := rest, "stdout"
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			name, stream = rest[:i], rest[i+1:]
		}
		if stream != "stdout" && stream != "stderr" {
			http.Error(w, "stream must be stdout or stderr", http.StatusNotFound)
			return
		}
		p, err := r.logPath(name, stream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		path = p
	}
	if path == "" {
		http.Error(w, "no log file", http.StatusNotFound)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "log file not readable", http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	st, _ := f.Stat()
	off := int64(0)
	if st != nil && st.Size() > 1024 {
		off = st.Size() - 1024
	}
	buf := make([]byte, 32*1024)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if st, err := os.Stat(path); err == nil && st.Size() < off {
			off = 0 // truncated or rotated
			if nf, err := os.Open(path); err == nil {
				f.Close()
				f = nf
			}
		}
		for {
			n, err := f.ReadAt(buf, off)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				off += int64(n)
			}
			if err == io.EOF || n == 0 || err != nil {
				break
			}
		}
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-req.Context().Done():
			return
		case <-r.s.done:
			return
		case <-t.C:
		}
	}
}

// Handler routes /RPC2, /logtail/ and /mainlogtail, with HTTP Basic auth
// when user is set. caller decides what each request may do (see Access);
// nil gives every caller Operate.
func (r *RPC) Handler(user, pass string, caller CallerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/RPC2", r)
	mux.HandleFunc("GET /logtail/", r.logtail)
	mux.HandleFunc("GET /mainlogtail", r.logtail)
	mux.Handle("GET "+health.Path, health.Handler("terok-supervisord", Version, r.healthProbe))
	routes := unixhttp.JSONErrors(mux) // unknown routes answer JSON like every terok socket
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c := Caller{Access: Operate, Who: "this caller"}
		if caller != nil {
			c = caller(req)
		}
		routes.ServeHTTP(w, req.WithContext(withCaller(req.Context(), c)))
	})
	if user != "" {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			u, p, ok := req.BasicAuth()
			if !ok || u != user || !passwordOK(pass, p) {
				w.Header().Set("WWW-Authenticate", `Basic realm="default"`)
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			inner.ServeHTTP(w, req)
		})
	}
	// The JSON paths have kit's access line and panic recovery. The
	// paths supervisorctl speaks keep Python's answers and log no line:
	// XML-RPC (supervisorctl and the web UI poll it, a line per call would
	// bury the log) and the log tails (a line in the main log per tail of
	// the main log would feed itself to every follower).
	logged := httpmw.Wrap(h, r.s.log)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p := req.URL.Path; p == "/RPC2" || p == "/mainlogtail" || strings.HasPrefix(p, "/logtail/") {
			h.ServeHTTP(w, req)
			return
		}
		logged.ServeHTTP(w, req)
	})
}

// healthProbe reports the supervisor's state; anything but RUNNING
// (shutting down, restarting) is degraded.
func (r *RPC) healthProbe(context.Context) (map[string]any, error) {
	v, _ := r.getState(context.Background(), nil)
	name := v.(map[string]any)["statename"]
	d := map[string]any{"state": name}
	if name != "RUNNING" {
		return d, fmt.Errorf("supervisor state is %v", name)
	}
	return d, nil
}

// passwordOK compares a Basic auth password with the configured one, which
// may be written as {SHA}hex-digest as in Python supervisord.
func passwordOK(configured, given string) bool {
	if digest, ok := strings.CutPrefix(configured, "{SHA}"); ok {
		sum := sha1.Sum([]byte(given))
		return subtle.ConstantTimeCompare([]byte(strings.ToLower(digest)), []byte(hex.EncodeToString(sum[:]))) == 1
	}
	return subtle.ConstantTimeCompare([]byte(configured), []byte(given)) == 1
}
