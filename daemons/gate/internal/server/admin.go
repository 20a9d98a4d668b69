package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/repos"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

const maxJSON = 1 << 20

func (s *Server) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/repos", s.listRepos)
	mux.HandleFunc("POST /v1/repos", s.ensureRepo)
	mux.HandleFunc("GET /v1/repos/{name}", s.showRepo)
	mux.HandleFunc("DELETE /v1/repos/{name}", s.deleteRepo)
	mux.HandleFunc("GET /v1/repos/{name}/log", s.logRepo)
	mux.HandleFunc("POST /v1/repos/{name}/sync", s.syncRepo)
	mux.HandleFunc("POST /v1/repos/{name}/promote", s.promote)
	mux.HandleFunc("GET /v1/repos/{name}/diff", s.diffRepo)
	mux.HandleFunc("GET /v1/events", s.listEvents)
	mux.HandleFunc("POST /v1/tokens", s.mint)
	mux.HandleFunc("GET /v1/tokens", s.listTokens)
	mux.HandleFunc("DELETE /v1/tokens", s.revoke)
	return mux
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, names.ErrBadName), errors.Is(err, repos.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, repos.ErrNotFound), errors.Is(err, repos.ErrNoBranch):
		return http.StatusNotFound
	case errors.Is(err, repos.ErrConflict), errors.Is(err, repos.ErrNoUpstream), errors.Is(err, repos.ErrMoved):
		return http.StatusConflict
	case errors.Is(err, repos.ErrUpstream):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	st := statusOf(err)
	if st >= 500 {
		s.log.Error().Err(err).Str("path", r.URL.Path).Msg("admin request failed")
	}
	unixhttp.WriteError(w, st, err)
}

func (s *Server) listRepos(w http.ResponseWriter, r *http.Request) {
	list, err := s.repos.List()
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, list)
}

func (s *Server) ensureRepo(w http.ResponseWriter, r *http.Request) {
	var req gateapi.EnsureRepoRequest
	if err := unixhttp.DecodeJSON(r, maxJSON, &req); err != nil {
		unixhttp.WriteError(w, http.StatusBadRequest, err)
		return
	}
	repo, created, err := s.repos.Ensure(r.Context(), req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	st := http.StatusOK
	if created {
		st = http.StatusCreated
	}
	unixhttp.WriteJSON(w, st, gateapi.EnsureRepoResponse{Repo: repo, New: created})
}

func (s *Server) showRepo(w http.ResponseWriter, r *http.Request) {
	d, err := s.repos.Show(r.PathValue("name"))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, d)
}

func (s *Server) logRepo(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			unixhttp.WriteError(w, http.StatusBadRequest, fmt.Errorf("limit %q: use a number from 1 to 1000", v))
			return
		}
		limit = n
	}
	name := r.PathValue("name")
	branch := r.URL.Query().Get("branch")
	if branch == "" {
		meta, err := s.repos.Meta(name)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		branch = meta.DefaultBranch
	}
	list, err := s.repos.Log(name, branch, limit)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, list)
}

func (s *Server) deleteRepo(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.repos.Delete(name); err != nil {
		s.writeErr(w, r, err)
		return
	}
	n, err := s.tokens.Revoke(name, "")
	if err != nil {
		s.writeErr(w, r, fmt.Errorf("repository deleted, but revoking its tokens failed: %w", err))
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, gateapi.Deleted{Name: name, TokensRevoked: n})
}

func (s *Server) syncRepo(w http.ResponseWriter, r *http.Request) {
	res, err := s.sync(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, res)
}

func (s *Server) promote(w http.ResponseWriter, r *http.Request) {
	var req gateapi.PromoteRequest
	if err := unixhttp.DecodeJSON(r, maxJSON, &req); err != nil {
		unixhttp.WriteError(w, http.StatusBadRequest, err)
		return
	}
	res, err := s.repos.Promote(r.Context(), r.PathValue("name"), req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, res)
}

func (s *Server) mint(w http.ResponseWriter, r *http.Request) {
	var req gateapi.MintRequest
	if err := unixhttp.DecodeJSON(r, maxJSON, &req); err != nil {
		unixhttp.WriteError(w, http.StatusBadRequest, err)
		return
	}
	if err := names.CheckProject(req.Project); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := names.Check("task", req.Task); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if !s.repos.Exists(req.Project) {
		// The detail names the API call; the CLI replaces it with its own
		// command.
		unixhttp.WriteErrorDetail(w, http.StatusNotFound, fmt.Sprintf("%v: %s", repos.ErrNotFound, req.Project),
			"create the repository first: POST /v1/repos {\"name\": \""+req.Project+"\"}")
		return
	}
	secret, e, err := s.tokens.Mint(req.Project, req.Task)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.log.Info().Str("project", e.Project).Str("task", e.Task).Str("token_id", e.ID).Msg("task token minted")
	unixhttp.WriteJSON(w, http.StatusCreated, gateapi.MintResponse{
		Token:  gateapi.Token{ID: e.ID, Project: e.Project, Task: e.Task, Created: e.Created},
		Secret: secret,
	})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" {
		if err := names.CheckProject(project); err != nil {
			s.writeErr(w, r, err)
			return
		}
	}
	out := []gateapi.Token{}
	for _, e := range s.tokens.List(project) {
		out = append(out, gateapi.Token{ID: e.ID, Project: e.Project, Task: e.Task, Created: e.Created})
	}
	unixhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	project, task := q.Get("project"), q.Get("task")
	if err := names.CheckProject(project); err != nil {
		unixhttp.WriteErrorDetail(w, http.StatusBadRequest, err.Error(), "revoke needs ?project=P and optionally &task=T")
		return
	}
	if q.Has("task") {
		if err := names.Check("task", task); err != nil {
			s.writeErr(w, r, err)
			return
		}
	}
	n, err := s.tokens.Revoke(project, task)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.log.Info().Str("project", project).Str("task", task).Int("revoked", n).Msg("task tokens revoked")
	unixhttp.WriteJSON(w, http.StatusOK, gateapi.RevokeResult{Revoked: n})
}
