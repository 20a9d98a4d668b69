package api

import (
	"fmt"
	"net/http"
)

// gateDiff serves GET /api/v1/projects/{name}/gate/diff?branch=B[&base=D]:
// the gate's comparison of branch B with the default branch (or D), from
// their merge base: commits, changed files with line counts and the
// unified patch (gateapi.Diff). ?head= is accepted for ?branch=.
func (a *API) gateDiff(w http.ResponseWriter, r *http.Request) {
	p, good := a.project(w, r)
	if !good {
		return
	}
	q := r.URL.Query()
	head := q.Get("branch")
	if head == "" {
		head = q.Get("head")
	}
	if head == "" {
		fail(w, fmt.Errorf("%w: ?branch= is missing: name the branch to compare, e.g. ?branch=agent/abc123 (terok gate branches lists them)", errBadRequest))
		return
	}
	d, err := a.d.Gate.Diff(r.Context(), p.Name, q.Get("base"), head)
	if err != nil {
		fail(w, unavailable("terok-gate", err))
		return
	}
	ok(w, d)
}
