package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/runner"
)

// gateDiff serves GET /api/v1/projects/{name}/gate/diff?branch=B[&base=D]:
// the gate's comparison of branch B with the default branch (or D):
// commits, changed files with line counts and the unified patch, as the
// gate answers it (gateapi.Diff). It asks the gate's admin API directly,
// so it works with any gate that has GET /v1/repos/{name}/diff.
func (a *API) gateDiff(w http.ResponseWriter, r *http.Request) {
	p, good := a.project(w, r)
	if !good {
		return
	}
	q := r.URL.Query()
	head := q.Get("branch")
	if head == "" {
		fail(w, fmt.Errorf("%w: ?branch= is missing: name the branch to compare, e.g. ?branch=agent/abc123", errBadRequest))
		return
	}
	g, isClient := a.d.Gate.(interface{ Unix() *unixhttp.Client })
	if !isClient {
		fail(w, fmt.Errorf("%w: this gate client cannot show diffs", errBadRequest))
		return
	}
	gq := url.Values{"head": {head}}
	if b := q.Get("base"); b != "" {
		gq.Set("base", b)
	}
	var out json.RawMessage
	if err := g.Unix().Get(r.Context(), "/v1/repos/"+url.PathEscape(p.Name)+"/diff?"+gq.Encode(), &out); err != nil {
		if strings.Contains(err.Error(), "no such route") {
			err = fmt.Errorf("%w: this terok-gate cannot compare branches (it has no diff route): update terok", runner.ErrUnavailable)
		} else {
			err = unavailable("terok-gate", err)
		}
		fail(w, err)
		return
	}
	ok(w, out)
}
