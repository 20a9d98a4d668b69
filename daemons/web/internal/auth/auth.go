package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// MinTokenLen is the shortest access token accepted from TEROK_WEB_TOKEN.
const MinTokenLen = 16

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

// Via says how a request was authenticated.
type Via string

// The ways in.
const (
	ViaSocket Via = "socket" // web.sock: trusted by its file mode
	ViaBearer Via = "bearer" // the access token
	ViaCookie Via = "cookie" // a browser session
)

// Identity is who a request comes from.
type Identity struct {
	Via Via
	// Session is the session's id (a hash of the cookie) for ViaCookie.
	Session string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// From returns the request's Identity; a request that went through no
// Require (web.sock) counts as the socket.
func From(r *http.Request) Identity {
	if id, ok := r.Context().Value(identityKey{}).(Identity); ok {
		return id
	}
	return Identity{Via: ViaSocket}
}

// Method checks one kind of credential. It returns ErrNoCredential when
// the request carries none of its kind (the next method is tried),
// ErrBadCredential when it carries a wrong one, a *LimitedError when the
// client is locked out, and ErrForbidden (wrapped with why) when the
// credential is right but the request may not use it.
type Method func(r *http.Request) (Identity, error)

// Auth checks requests against its methods.
type Auth struct {
	Methods []Method
}

// Require wraps next so that unauthenticated requests get 401 (429 when
// the client is locked out, 403 when refused for another reason).
func (a *Auth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var refused error
		wrong := false
		for _, m := range a.Methods {
			id, err := m(r)
			if err == nil {
				next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
				return
			}
			wrong = wrong || errors.Is(err, ErrBadCredential)
			if !errors.Is(err, ErrNoCredential) && !errors.Is(err, ErrBadCredential) && refused == nil {
				refused = err
			}
		}
		var le *LimitedError
		switch {
		case errors.As(refused, &le):
			WriteLimited(w, le)
		case refused != nil:
			unixhttp.WriteErrorDetail(w, http.StatusForbidden, refused.Error(), "forbidden")
		case wrong:
			// A token came and is not this terok-web's: say so, not that
			// one is needed.
			w.Header().Set("WWW-Authenticate", `Bearer realm="terok", error="invalid_token"`)
			unixhttp.WriteErrorDetail(w, http.StatusUnauthorized, "that token is wrong: it is not this terok-web's access token",
				"terok web url on the tree prints the right one (in Docker: the login URL in docker logs); TEROK_WEB_TOKEN sets it")
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="terok"`)
			unixhttp.WriteErrorDetail(w, http.StatusUnauthorized, "this request needs the access token",
				"send Authorization: Bearer TOKEN (terok --token, or TEROK_WEB_TOKEN); terok web url prints it (in Docker: the login URL in docker logs)")
		}
	})
}

// WriteLimited answers 429 with Retry-After.
func WriteLimited(w http.ResponseWriter, le *LimitedError) {
	secs := int(le.Retry/time.Second) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	unixhttp.WriteErrorDetail(w, http.StatusTooManyRequests, le.Error(), "too many failed logins")
}

// ClientAddr is the request's peer address without its port (the key of
// the login rate limit; behind a reverse proxy every client is the
// proxy).
func ClientAddr(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// Bearer accepts "Authorization: Bearer TOKEN", and ?token=TOKEN on a
// WebSocket upgrade. Wrong tokens count against lim (nil: no limit), and
// a locked-out client is refused before its token is compared.
func Bearer(token string, lim *Limiter) Method {
	want := []byte(token)
	return func(r *http.Request) (Identity, error) {
		got := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		} else if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			got = r.URL.Query().Get("token")
		}
		if got == "" {
			return Identity{}, ErrNoCredential
		}
		addr := ClientAddr(r)
		if err := lim.Check(addr); err != nil {
			return Identity{}, err
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			lim.Fail(addr)
			return Identity{}, ErrBadCredential
		}
		return Identity{Via: ViaBearer}, nil
	}
}

// safe reports whether a method only reads.
func safe(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// CrossSite reports whether the browser marks the request as coming from
// another origin (Sec-Fetch-Site same-site or cross-site): another port
// of the same host is "same-site", so a task's page is one.
func CrossSite(r *http.Request) bool {
	s := r.Header.Get("Sec-Fetch-Site")
	return s == "same-site" || s == "cross-site"
}

// Cookie accepts a live session of s. A mutation (anything but GET,
// HEAD, OPTIONS) must also carry CSRFHeader with the session's CSRF
// value, and a request the browser marks as coming from another origin is
// refused whatever its method. A WebSocket upgrade is a GET whose Origin
// the handler checks as well.
func Cookie(s *Sessions) Method {
	return func(r *http.Request) (Identity, error) {
		c, err := r.Cookie(s.CookieName())
		if err != nil || c.Value == "" {
			return Identity{}, ErrNoCredential
		}
		sess, ok := s.Lookup(c.Value)
		if !ok {
			return Identity{}, ErrNoCredential // expired or revoked: log in again
		}
		if CrossSite(r) {
			return Identity{}, fmt.Errorf("%w: a page of another origin (%s) may not use terok's session", ErrForbidden, r.Header.Get("Sec-Fetch-Site"))
		}
		if !safe(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sess.CSRF)) != 1 {
			return Identity{}, fmt.Errorf("%w: a change made with the session cookie needs the page's %s header", ErrForbidden, CSRFHeader)
		}
		return Identity{Via: ViaCookie, Session: sess.ID}, nil
	}
}
