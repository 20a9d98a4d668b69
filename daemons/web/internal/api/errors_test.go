package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/runner"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TestErrorsSayNoStatusWords: an error answer carries the message people
// read, without HTTP status words in it or as its detail.
func TestErrorsSayNoStatusWords(t *testing.T) {
	gate409 := &unixhttp.APIError{Status: 409, Message: "branch moved since it was reviewed: agent/x is now at 9a1b, not at 3f0c as reviewed"}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		msg    string
	}{
		{"image missing", fmt.Errorf("%w: image localhost/x is not in Podman's store: terok image import localhost/x TARBALL imports it", runner.ErrImageMissing),
			http.StatusUnprocessableEntity, "image missing: image localhost/x is not in Podman's store: terok image import localhost/x TARBALL imports it"},
		{"the gate's refusal passed on", gateErr(webapi.ProjectInfo{Project: webapi.Project{Name: "demo"}}, gate409),
			http.StatusConflict, gate409.Message},
		{"conflict", fmt.Errorf("%w: task abc is running: stop it first", runner.ErrConflict), http.StatusConflict, "conflict: task abc is running: stop it first"},
		{"upstream", gateErr(webapi.ProjectInfo{Project: webapi.Project{Name: "demo", Git: webapi.Git{UpstreamURL: "https://example.org/x.git"}}},
			&unixhttp.APIError{Status: 502, Message: "upstream failed: list https://example.org/x.git: 403"}),
			http.StatusBadGateway, "terok-gate could not use the upstream of project demo, https://example.org/x.git (address example.org:443): upstream failed: list https://example.org/x.git: 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			fail(w, tc.err)
			var body webapi.Error
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.status || body.Error != tc.msg || body.Detail != "" {
				t.Fatalf("%d %q detail %q, want %d %q and no detail", w.Code, body.Error, body.Detail, tc.status, tc.msg)
			}
			for _, words := range []string{"(HTTP", "unprocessable entity", "(conflict)", "bad gateway"} {
				if strings.Contains(strings.ToLower(w.Body.String()), words) {
					t.Fatalf("status words %q in %s", words, w.Body.String())
				}
			}
		})
	}
	if !errors.Is(gateErr(webapi.ProjectInfo{}, gate409), unixhttp.ErrConflict) {
		t.Fatal("the gate's 409 lost its kind")
	}
}
