package ui

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

// TestLoginHint: the login page names the token's real file and where
// the login URL is printed: terok web url natively, docker logs with
// the container's id in the image (a sentence when the id is unknown,
// never a placeholder); the wrong-token message says the same.
func TestLoginHint(t *testing.T) {
	state := t.TempDir()
	for _, tc := range []struct {
		name    string
		inImage bool
		id      string
		want    []string
		not     []string
	}{
		{"natively", false, "", []string{"<code>terok web url</code> prints", "<code>" + auth.TokenFile(state) + "</code>"},
			[]string{"docker logs", "access-token"}},
		{"in the image", true, "3f2a1b0c9d8e", []string{"<code>docker logs 3f2a1b0c9d8e</code> shows the login URL",
			"<code>" + auth.TokenFile(state) + "</code> inside the container"}, []string{"terok web url", "<container", "access-token"}},
		{"in the image without an id", true, "", []string{"<code>docker logs</code> with this container's name (<code>docker ps</code> lists it)"},
			[]string{"terok web url", "<container", "docker logs <"}},
		{"fixed by TEROK_WEB_TOKEN", false, "", []string{"<code>terok web url</code> prints", "the value <code>TEROK_WEB_TOKEN</code> gives"},
			[]string{"kept in", "docker logs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := auth.TokenFile(state)
			if tc.name == "fixed by TEROK_WEB_TOKEN" {
				file = ""
			}
			s, err := auth.OpenSessions(state, tok, "terok_session_x", auth.SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			u, err := New(Config{Token: tok, Sessions: s, TokenFile: file, InImage: tc.inImage,
				ContainerID: tc.id, Log: zerolog.Nop()}, http.NotFoundHandler())
			if err != nil {
				t.Fatal(err)
			}
			page := do(u, "GET", "/login", nil, nil).Body.String()
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the login page lacks %q:\n%s", w, page)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(page, n) {
					t.Errorf("the login page holds %q:\n%s", n, page)
				}
			}
			w := do(u, "POST", "/login", strings.NewReader("token=nope"), nil)
			msg := html.UnescapeString(w.Body.String())
			where := file
			if file == "" {
				where = "the value TEROK_WEB_TOKEN gives"
			}
			if w.Code != 401 || !strings.Contains(msg, where) {
				t.Errorf("wrong token: %d, the message does not say %q:\n%s", w.Code, where, msg)
			}
			if tc.id != "" && !strings.Contains(msg, "docker logs "+tc.id) {
				t.Errorf("wrong token in the image: the message does not say docker logs %s:\n%s", tc.id, msg)
			}
		})
	}
}
