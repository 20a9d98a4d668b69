package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/names"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/oauth"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/phantoms"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// maxBody bounds an admin request's body.
const maxBody = 64 << 10

// maxProvidersPerMint bounds one mint.
const maxProvidersPerMint = 16

// AdminHandler is the admin API of vault.sock with its health endpoint.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+health.Path, health.Handler("terok-vault", buildinfo.Version, s.probe))
	mux.HandleFunc("GET /v1/providers", s.listProviders)
	mux.HandleFunc("GET /v1/secrets", s.listSecrets)
	mux.HandleFunc("PUT /v1/secrets/{provider}", s.setSecret)
	mux.HandleFunc("DELETE /v1/secrets/{provider}", s.removeSecret)
	mux.HandleFunc("POST /v1/phantoms", s.mint)
	mux.HandleFunc("GET /v1/phantoms", s.listPhantoms)
	mux.HandleFunc("DELETE /v1/phantoms/{id}", s.revokePhantom)
	mux.HandleFunc("DELETE /v1/tasks/{project}/{task}/phantoms", s.revokeTask)
	mux.HandleFunc("GET /v1/tasks/{project}/{task}/audit", s.readAudit)
	mux.HandleFunc("POST /v1/logins", s.startLogin)
	mux.HandleFunc("GET /v1/logins/{id}", s.getLogin)
	return mux
}

func (s *Server) probe(context.Context) (map[string]any, error) {
	live, revoked := s.phantoms.Counts()
	d := map[string]any{"providers": len(s.providers.Names()), "secrets": len(s.secrets.List("")),
		"phantoms_live": live, "phantoms_revoked": revoked, "key_id": s.key.ID(), "broker": s.cfg.Listen}
	if s.KeyNote != "" {
		d["key"] = s.KeyNote
	}
	if p := s.secrets.Problems(); len(p) > 0 {
		return d, fmt.Errorf("%d stored credential(s) cannot be used: %s", len(p), strings.Join(p, "; "))
	}
	return d, nil
}

// badRequest answers 400 naming what is wrong.
func badRequest(w http.ResponseWriter, err error, detail string) {
	unixhttp.WriteErrorDetail(w, http.StatusBadRequest, err.Error(), detail)
}

// writeErr maps the vault's errors to statuses.
func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, names.ErrBadName), errors.Is(err, secrets.ErrBadValue):
		badRequest(w, err, "")
	case errors.Is(err, providers.ErrUnknown):
		unixhttp.WriteErrorDetail(w, http.StatusNotFound, err.Error(), "a provider is a file shipped with the vault or added by root; terok-vault providers lists them")
	case errors.Is(err, secrets.ErrNotFound), errors.Is(err, phantoms.ErrNotFound), errors.Is(err, oauth.ErrUnknownLogin):
		unixhttp.WriteError(w, http.StatusNotFound, err)
	case errors.Is(err, oauth.ErrNoLogin), errors.Is(err, oauth.ErrRefused):
		badRequest(w, err, "")
	case errors.Is(err, oauth.ErrTransient):
		unixhttp.WriteError(w, http.StatusBadGateway, err)
	case errors.Is(err, oauth.ErrTooMany):
		unixhttp.WriteError(w, http.StatusTooManyRequests, err)
	default:
		unixhttp.WriteError(w, http.StatusInternalServerError, err)
	}
}

// mayWrite reports whether the caller may set or remove secrets, and
// answers 403 when not.
func (s *Server) mayWrite(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.SecretWriters == config.WritersSocket {
		return true
	}
	if p, ok := unixhttp.PeerCred(r.Context()); ok && (p.UID == 0 || p.UID == s.uid) {
		return true
	}
	unixhttp.WriteErrorDetail(w, http.StatusForbidden, "only root may set or remove secrets on this vault",
		"the vault runs with secret writers = root ("+config.EnvSecretWriters+"); run terok-vault secret … as root")
	return false
}

// scopeOf reads ?project= (empty: global) and the provider of the path.
func (s *Server) scopeOf(r *http.Request) (*providers.Provider, string, error) {
	project := r.URL.Query().Get("project")
	if project != "" {
		if err := names.Check("project", project); err != nil {
			return nil, "", err
		}
	}
	name := r.PathValue("provider")
	if err := names.CheckProvider(name); err != nil {
		return nil, "", err
	}
	p, err := s.providers.Get(name)
	return p, project, err
}

func wireSecret(m secrets.Meta) vaultapi.Secret {
	return vaultapi.Secret{Provider: m.Provider, Project: m.Project, Kind: m.Kind, SetAt: m.SetAt,
		Fingerprint: m.Fingerprint, Expires: m.Expires, Problem: m.Problem}
}

func wireProvider(p *providers.Provider) vaultapi.Provider {
	out := vaultapi.Provider{Name: p.Name, Source: p.Source, About: p.About, Upstream: p.Upstream.String(),
		Inject: p.Inject.String(), PhantomFormat: p.Phantom.String(), Routes: []string{}, Accept: []string{}}
	for _, a := range p.Accept {
		if a.Query != "" {
			out.Accept = append(out.Accept, "query "+a.Query)
		} else {
			out.Accept = append(out.Accept, a.String())
		}
	}
	for _, r := range p.Routes {
		out.Routes = append(out.Routes, r.String())
	}
	for _, e := range p.Env {
		out.Env = append(out.Env, vaultapi.EnvHint{Name: e.Name, Value: e.Value})
	}
	if p.Login != nil {
		out.Login = &vaultapi.Login{Flows: p.Login.Flows, TokenURL: p.Login.TokenURL, DeviceURL: p.Login.DeviceURL, Inject: p.Login.Inject.String()}
	}
	return out
}

func (s *Server) wirePhantom(ph phantoms.Phantom, token string) vaultapi.Phantom {
	out := vaultapi.Phantom{ID: ph.ID, Project: ph.Project, Task: ph.Task, Provider: ph.Provider, Upstream: ph.Upstream,
		Routes: ph.Routes, Created: ph.Created, Revoked: ph.Revoked, Token: token, PathPrefix: "/" + ph.Provider}
	if p, err := s.providers.Get(ph.Provider); err == nil {
		for _, e := range p.Env {
			out.Env = append(out.Env, vaultapi.EnvHint{Name: e.Name, Value: e.Value})
		}
	}
	return out
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request) {
	out := []vaultapi.Provider{}
	for _, p := range s.providers.All() {
		out = append(out, wireProvider(p))
	}
	unixhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" {
		if err := names.Check("project", project); err != nil {
			writeErr(w, err)
			return
		}
	}
	out := []vaultapi.Secret{}
	for _, m := range s.secrets.List(project) {
		out = append(out, wireSecret(m))
	}
	unixhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) setSecret(w http.ResponseWriter, r *http.Request) {
	if !s.mayWrite(w, r) {
		return
	}
	p, project, err := s.scopeOf(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	var req vaultapi.SetSecretRequest
	if err := unixhttp.DecodeJSON(r, maxBody, &req); err != nil {
		badRequest(w, errors.New("the body must be {\"value\": \"...\"}"), "")
		return
	}
	m, err := s.secrets.Set(secrets.SetRequest{Provider: p.Name, Project: project, Kind: secrets.KindAPIKey, Value: []byte(req.Value)})
	req.Value = ""
	if err != nil {
		writeErr(w, err)
		return
	}
	s.oauth.Forget(p.Name, project) // an API key replaces a login
	s.log.Info().Str("provider", p.Name).Str("project", project).Str("fingerprint", m.Fingerprint).Msg("secret set")
	unixhttp.WriteJSON(w, http.StatusOK, wireSecret(m))
}

func (s *Server) removeSecret(w http.ResponseWriter, r *http.Request) {
	if !s.mayWrite(w, r) {
		return
	}
	project := r.URL.Query().Get("project")
	name := r.PathValue("provider")
	err := names.CheckProvider(name)
	if err == nil && project != "" {
		err = names.Check("project", project)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	// A provider whose file went away may still have a stored secret:
	// removing it must work.
	m, err := s.secrets.Remove(name, project)
	if err != nil {
		writeErr(w, err)
		return
	}
	s.oauth.Forget(name, project)
	s.log.Info().Str("provider", name).Str("project", project).Msg("secret removed")
	unixhttp.WriteJSON(w, http.StatusOK, vaultapi.Removed{Removed: wireSecret(m)})
}

func (s *Server) mint(w http.ResponseWriter, r *http.Request) {
	var req vaultapi.MintRequest
	if err := unixhttp.DecodeJSON(r, maxBody, &req); err != nil {
		badRequest(w, err, "")
		return
	}
	if err := names.Check("project", req.Project); err != nil {
		writeErr(w, err)
		return
	}
	if err := names.Check("task", req.Task); err != nil {
		writeErr(w, err)
		return
	}
	if len(req.Providers) == 0 || len(req.Providers) > maxProvidersPerMint {
		badRequest(w, fmt.Errorf("name 1 to %d providers", maxProvidersPerMint), "")
		return
	}
	var ps []*providers.Provider
	for i, n := range req.Providers {
		if slices.Contains(req.Providers[:i], n) {
			badRequest(w, fmt.Errorf("provider %s is named twice", n), "")
			return
		}
		p, err := s.providers.Get(n)
		if err != nil {
			writeErr(w, err)
			return
		}
		ps = append(ps, p)
	}
	minted, err := s.phantoms.Mint(req.Project, req.Task, ps)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := vaultapi.MintResponse{}
	ids := make([]string, len(minted))
	for i, m := range minted {
		out.Phantoms = append(out.Phantoms, s.wirePhantom(m.Phantom, m.Token))
		ids[i] = m.ID
	}
	s.log.Info().Str("project", req.Project).Str("task", req.Task).Strs("providers", req.Providers).Strs("ids", ids).Msg("phantoms minted")
	unixhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) listPhantoms(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, what := range []string{"project", "task"} {
		if v := q.Get(what); v != "" {
			if err := names.Check(what, v); err != nil {
				writeErr(w, err)
				return
			}
		}
	}
	out := []vaultapi.Phantom{}
	for _, ph := range s.phantoms.List(q.Get("project"), q.Get("task")) {
		out = append(out, s.wirePhantom(ph, ""))
	}
	unixhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) revokePhantom(w http.ResponseWriter, r *http.Request) {
	ph, err := s.phantoms.Revoke(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	s.log.Info().Str("id", ph.ID).Str("project", ph.Project).Str("task", ph.Task).Msg("phantom revoked")
	unixhttp.WriteJSON(w, http.StatusOK, s.wirePhantom(ph, ""))
}

func (s *Server) taskOf(w http.ResponseWriter, r *http.Request) (project, task string, ok bool) {
	project, task = r.PathValue("project"), r.PathValue("task")
	if err := names.Check("project", project); err != nil {
		writeErr(w, err)
		return "", "", false
	}
	if err := names.Check("task", task); err != nil {
		writeErr(w, err)
		return "", "", false
	}
	return project, task, true
}

func (s *Server) revokeTask(w http.ResponseWriter, r *http.Request) {
	project, task, ok := s.taskOf(w, r)
	if !ok {
		return
	}
	n, err := s.phantoms.RevokeTask(project, task)
	if err != nil {
		writeErr(w, err)
		return
	}
	s.log.Info().Str("project", project).Str("task", task).Int("revoked", n).Msg("task's phantoms revoked")
	unixhttp.WriteJSON(w, http.StatusOK, vaultapi.RevokeResponse{Revoked: n})
}

func (s *Server) readAudit(w http.ResponseWriter, r *http.Request) {
	project, task, ok := s.taskOf(w, r)
	if !ok {
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			badRequest(w, fmt.Errorf("limit %q: a number from 0 to 10000", v), "")
			return
		}
		limit = n
	}
	rep, err := s.audit.Read(project, task, limit)
	if err != nil {
		writeErr(w, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, vaultapi.AuditReport{Project: project, Task: task, Counts: rep.Counts, Entries: rep.Entries})
}

func (s *Server) startLogin(w http.ResponseWriter, r *http.Request) {
	if !s.mayWrite(w, r) {
		return
	}
	var req vaultapi.LoginRequest
	if err := unixhttp.DecodeJSON(r, maxBody, &req); err != nil {
		badRequest(w, errors.New("the body must be a login request"), "")
		return
	}
	if req.Project != "" {
		if err := names.Check("project", req.Project); err != nil {
			writeErr(w, err)
			return
		}
	}
	p, err := s.providers.Get(req.Provider)
	if err != nil {
		writeErr(w, err)
		return
	}
	st, err := s.logins.Start(r.Context(), p, req.Project, req.Flow, req.RefreshToken)
	req.RefreshToken = ""
	if err != nil {
		writeErr(w, err)
		return
	}
	s.log.Info().Str("provider", p.Name).Str("project", req.Project).Str("flow", req.Flow).Str("state", st.State).Msg("login started")
	unixhttp.WriteJSON(w, http.StatusOK, st)
}

func (s *Server) getLogin(w http.ResponseWriter, r *http.Request) {
	wait := time.Duration(0)
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			badRequest(w, fmt.Errorf("wait %q: a duration like 30s", v), "")
			return
		}
		wait = min(d, time.Minute)
	}
	st, err := s.logins.Get(r.Context(), r.PathValue("id"), wait)
	if err != nil {
		writeErr(w, err)
		return
	}
	unixhttp.WriteJSON(w, http.StatusOK, st)
}
