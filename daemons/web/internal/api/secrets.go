package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// secretRoutes are the vault's credentials: write-only. No route answers
// a value, and the one that takes a value (PUT) passes it to vault.sock
// without logging it or putting it in an error; the access line has the
// path only.
func (a *API) secretRoutes(m *http.ServeMux) {
	s := a.d.Secrets
	if s == nil {
		s = secrets.New(nil, nil)
	}
	m.HandleFunc("GET "+Prefix+"/secrets", call(200, func(r *http.Request, _ none) ([]vaultapi.Secret, error) {
		return s.List(r.Context(), r.URL.Query().Get("project"))
	}))
	m.HandleFunc("PUT "+Prefix+"/secrets/{provider}", func(w http.ResponseWriter, r *http.Request) {
		var req webapi.SecretRequest
		if !decodeSecret(w, r, &req, `{"value": "…"} with the key as a string`) {
			return
		}
		sec, err := s.Set(r.Context(), r.PathValue("provider"), r.URL.Query().Get("project"), req.Value)
		req.Value = ""
		if err != nil {
			writeErr(w, err)
			return
		}
		unixhttp.WriteJSON(w, http.StatusOK, sec)
	})
	m.HandleFunc("DELETE "+Prefix+"/secrets/{provider}", call(200, func(r *http.Request, _ none) (webapi.SecretRemoved, error) {
		sec, err := s.Remove(r.Context(), r.PathValue("provider"), r.URL.Query().Get("project"))
		return webapi.SecretRemoved{Removed: sec}, err
	}))
	m.HandleFunc("POST "+Prefix+"/secrets/{provider}/login", func(w http.ResponseWriter, r *http.Request) {
		var req webapi.LoginRequest
		if !decodeSecret(w, r, &req, `{"flow": "device"} or {"flow": "refresh-token", "refresh_token": "…"}`) {
			return
		}
		st, err := s.StartLogin(r.Context(), vaultapi.LoginRequest{Provider: r.PathValue("provider"), Project: r.URL.Query().Get("project"),
			Flow: req.Flow, RefreshToken: req.RefreshToken})
		req.RefreshToken = ""
		if err != nil {
			writeErr(w, err)
			return
		}
		unixhttp.WriteJSON(w, http.StatusOK, st)
	})
	m.HandleFunc("GET "+Prefix+"/logins/{id}", call(200, func(r *http.Request, _ none) (vaultapi.LoginState, error) {
		wait := time.Duration(0)
		if v := r.URL.Query().Get("wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return vaultapi.LoginState{}, fail.BadRequest("wait=%q: give a duration up to 1m, e.g. ?wait=30s", v)
			}
			wait = d
		}
		return s.Login(r.Context(), r.PathValue("id"), wait)
	}))
	m.HandleFunc("GET "+Prefix+"/providers", call(200, func(r *http.Request, _ none) ([]vaultapi.Provider, error) {
		return s.Providers(r.Context())
	}))
}

// decodeSecret decodes a body that carries a secret into v, or answers
// 400 naming the form want: never with the decoder's own message, which
// may quote the body (an unknown field named by the value, a value sent
// bare).
func decodeSecret(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErr(w, fail.BadRequest("the body must be JSON %s (at most %d bytes)", want, maxBody))
		return false
	}
	return true
}
