package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

// TestIdentify: the TCP listener limits' check finds the token (header,
// or ?token= on a WebSocket upgrade only) and a live session's cookie,
// keyed without the secret; a wrong token, an unknown cookie, and the
// session cookie on a request another origin's page makes count as none.
func TestIdentify(t *testing.T) {
	const token = "the-token-0123456789"
	sessions, err := auth.OpenSessions(t.TempDir(), token, auth.CookieName("inst"), auth.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	value, sess, err := sessions.Create()
	if err != nil {
		t.Fatal(err)
	}
	id := identify(token, sessions)
	cookie := sessions.CookieName() + "=" + value
	for _, tc := range []struct {
		name, target string
		hdr          map[string]string
		key          string // "" for none
	}{
		{"bearer", "/api/v1/projects", map[string]string{"Authorization": "Bearer " + token}, TokenKey},
		{"wrong bearer", "/api/v1/projects", map[string]string{"Authorization": "Bearer not-the-token-0123"}, ""},
		{"basic", "/api/v1/projects", map[string]string{"Authorization": "Basic " + token}, ""},
		{"token on an upgrade", "/api/v1/events?token=" + token, map[string]string{"Upgrade": "websocket"}, TokenKey},
		{"token without an upgrade", "/?token=" + token, nil, ""},
		{"session", "/api/v1/projects", map[string]string{"Cookie": cookie}, SessionKeyPrefix + sess.ID},
		{"session from a task's page", "/api/v1/projects", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-site"}, ""},
		{"session from another site", "/api/v1/projects", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, ""},
		{"session of the same origin", "/api/v1/projects", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}, SessionKeyPrefix + sess.ID},
		{"unknown cookie", "/api/v1/projects", map[string]string{"Cookie": sessions.CookieName() + "=nope"}, ""},
		{"nothing", "/login", nil, ""},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		c, ok := id(r)
		if (tc.key != "") != ok || c.Key != tc.key {
			t.Errorf("%s: %q %v, want %q", tc.name, c.Key, ok, tc.key)
		}
		if strings.Contains(c.Key, value) || strings.Contains(c.Key, token) {
			t.Errorf("%s: the key %q holds the secret", tc.name, c.Key)
		}
	}
}
