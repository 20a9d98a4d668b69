// Package auth guards terok-web's TCP listener: every request carries the
// access token as "Authorization: Bearer TOKEN" (the events WebSocket may
// pass it as ?token=, which browsers can set). The comparison takes
// constant time. Methods is a list so a cookie login can join later.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// MinTokenLen is the shortest access token accepted from TEROK_WEB_TOKEN.
const MinTokenLen = 16

// ErrWeakToken means TEROK_WEB_TOKEN is too short.
var ErrWeakToken = errors.New("access token too short")

// TokenFile is where a generated token is kept, below the state dir.
func TokenFile(stateDir string) string { return filepath.Join(stateDir, "web", "token") }

// LoadToken returns the access token: fixed (from TEROK_WEB_TOKEN, at
// least MinTokenLen characters), else the one kept in the token file,
// else a new one written there (0600). generated tells whether it is new.
func LoadToken(stateDir, fixed string) (token string, generated bool, err error) {
	if fixed != "" {
		if len(fixed) < MinTokenLen {
			return "", false, fmt.Errorf("%w: TEROK_WEB_TOKEN has %d characters: give at least %d, or unset it to have one generated", ErrWeakToken, len(fixed), MinTokenLen)
		}
		return fixed, false, nil
	}
	f := TokenFile(stateDir)
	b, err := os.ReadFile(f)
	if err == nil && len(strings.TrimSpace(string(b))) >= MinTokenLen {
		return strings.TrimSpace(string(b)), false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read the access token %s: %w", f, err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	token = hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return "", false, fmt.Errorf("create %s: %w", filepath.Dir(f), err)
	}
	if err := atomicfile.WriteFile(f, []byte(token+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write the access token %s: %w", f, err)
	}
	return token, true, nil
}

// Method decides whether a request is authenticated.
type Method func(r *http.Request) bool

// Auth checks requests against its methods.
type Auth struct {
	Methods []Method
}

// New returns an Auth accepting the bearer token.
func New(token string) *Auth {
	return &Auth{Methods: []Method{Bearer(token)}}
}

// Bearer accepts "Authorization: Bearer TOKEN", and ?token=TOKEN on a
// WebSocket upgrade.
func Bearer(token string) Method {
	want := []byte(token)
	return func(r *http.Request) bool {
		got := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		} else if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			got = r.URL.Query().Get("token")
		}
		return got != "" && subtle.ConstantTimeCompare([]byte(got), want) == 1
	}
}

// Require wraps next so that unauthenticated requests get 401.
func (a *Auth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range a.Methods {
			if m(r) {
				next.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="terok"`)
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") && strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")) != "" {
			// A token came and is not this terok-web's: say so, not that
			// one is needed.
			unixhttp.WriteErrorDetail(w, http.StatusUnauthorized, "that token is wrong: it is not this terok-web's access token",
				"terok web url on the tree prints the right one (in Docker: the login URL in docker logs); TEROK_WEB_TOKEN sets it")
			return
		}
		unixhttp.WriteErrorDetail(w, http.StatusUnauthorized, "this request needs the access token",
			"send Authorization: Bearer TOKEN (terok --token, or TEROK_WEB_TOKEN); terok web url prints it (in Docker: the login URL in docker logs)")
	})
}
