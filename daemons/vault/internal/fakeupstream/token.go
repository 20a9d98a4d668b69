package fakeupstream

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TokenEndpoint is a fake OAuth token endpoint with rotating refresh
// tokens and the device flow. It records every refresh token presented
// and which of them were presented after they had been rotated out (Reused).
type TokenEndpoint struct {
	URL string // https://127.0.0.1:PORT; the token URL is URL+"/token", the device URL URL+"/device"

	srv *http.Server

	mu sync.Mutex
	// ExpiresIn is the lifetime of issued access tokens in seconds.
	ExpiresIn int
	// Fail answers the next refreshes, one entry each: an OAuth error
	// ("invalid_grant"), "503" for a server error, "" for a normal answer.
	Fail []string
	// Rotate issues a new refresh token at every refresh.
	Rotate bool
	// PendingPolls is how many device polls answer authorization_pending.
	PendingPolls int

	valid     map[string]bool // refresh tokens that may be used now
	spent     map[string]bool // rotated out
	presented []string
	reused    []string
	issued    []string // access tokens
	polls     int
}

// StartTokenEndpoint serves a fake token endpoint with ca's certificate;
// initial is a refresh token it accepts.
func StartTokenEndpoint(ca *testkit.CA, initial string) (*TokenEndpoint, error) {
	ln, err := ca.Listen()
	if err != nil {
		return nil, err
	}
	e := &TokenEndpoint{URL: "https://" + ln.Addr().String(), ExpiresIn: 3600, Rotate: true,
		valid: map[string]bool{initial: true}, spent: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", e.token)
	mux.HandleFunc("POST /device", e.device)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go e.srv.Serve(ln)
	return e, nil
}

// Close stops the fake.
func (e *TokenEndpoint) Close() { e.srv.Close() }

// Presented returns the refresh tokens presented, in order.
func (e *TokenEndpoint) Presented() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.presented...)
}

// Reused returns refresh tokens presented after being rotated out.
func (e *TokenEndpoint) Reused() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.reused...)
}

// Issued returns the access tokens issued, in order.
func (e *TokenEndpoint) Issued() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.issued...)
}

// Accept makes rt a refresh token the endpoint takes.
func (e *TokenEndpoint) Accept(rt string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.valid[rt] = true
}

// Set changes settings under the endpoint's lock.
func (e *TokenEndpoint) Set(f func(e *TokenEndpoint)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e)
}

func randHex(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (e *TokenEndpoint) issue(w http.ResponseWriter, withRefresh bool) {
	access := randHex("fake-access-")
	ans := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": e.ExpiresIn}
	if withRefresh {
		rt := randHex("fake-refresh-")
		e.valid[rt] = true
		ans["refresh_token"] = rt
	}
	e.issued = append(e.issued, access)
	writeJSON(w, http.StatusOK, ans)
}

func (e *TokenEndpoint) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	e.mu.Lock()
	defer e.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		e.presented = append(e.presented, rt)
		if e.spent[rt] {
			e.reused = append(e.reused, rt)
		}
		if len(e.Fail) > 0 {
			f := e.Fail[0]
			e.Fail = e.Fail[1:]
			switch f {
			case "":
			case "503":
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			default:
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": f})
				return
			}
		}
		if !e.valid[rt] {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "unknown refresh token"})
			return
		}
		if e.Rotate {
			delete(e.valid, rt)
			e.spent[rt] = true
		}
		e.issue(w, e.Rotate)
	case "urn:ietf:params:oauth:grant-type:device_code":
		if r.PostForm.Get("device_code") != "fake-device-code" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		e.polls++
		if e.polls <= e.PendingPolls {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "authorization_pending"})
			return
		}
		e.issue(w, true)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
	}
}

func (e *TokenEndpoint) device(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	writeJSON(w, http.StatusOK, map[string]any{"device_code": "fake-device-code", "user_code": "WDJB-MJHT",
		"verification_uri": e.URL + "/activate", "expires_in": 60, "interval": 1})
}

// LoginLines are the provider-file lines declaring this endpoint's login.
func (e *TokenEndpoint) LoginLines() string {
	return fmt.Sprintf("login device refresh-token\ntoken-url %s/token\ndevice-url %s/device\nclient-id fake-client\n", e.URL, e.URL)
}
