package server

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

// Credential keys of the TCP listener's limits.
const (
	// TokenKey counts every request with the access token: the CLI's
	// commands and scripts over TCP share it.
	TokenKey = "token"
	// SessionKeyPrefix + a session's id counts a browser session's
	// requests (the id is a hash of the cookie, never the cookie).
	SessionKeyPrefix = "session:"
)

// identify is the TCP listener limits' check, from the headers alone: the
// access token (Authorization: Bearer, or ?token= on a WebSocket
// upgrade, as auth.Bearer takes it) or the cookie of a live session. A
// wrong token, an ended session, or a session cookie on a request the
// browser marks as coming from another origin (which auth.Cookie
// refuses: another task's page is same-site) count as none: the request
// gets the short deadline and its connection closes after the answer.
// The login page, the login form and the static files carry none by
// nature and are served so.
func identify(token string, sessions *auth.Sessions) listenlimit.Identify {
	want := []byte(token)
	return func(r *http.Request) (listenlimit.Credential, bool) {
		got := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		} else if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			got = r.URL.Query().Get("token")
		}
		if got != "" {
			if subtle.ConstantTimeCompare([]byte(got), want) == 1 {
				return listenlimit.Credential{Key: TokenKey}, true
			}
			return listenlimit.Credential{}, false
		}
		if auth.CrossSite(r) {
			return listenlimit.Credential{}, false
		}
		c, err := r.Cookie(sessions.CookieName())
		if err != nil || c.Value == "" {
			return listenlimit.Credential{}, false
		}
		s, ok := sessions.Lookup(c.Value)
		if !ok {
			return listenlimit.Credential{}, false
		}
		return listenlimit.Credential{Key: SessionKeyPrefix + s.ID}, true
	}
}
