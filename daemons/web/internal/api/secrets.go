package api

import (
	"encoding/json"
	"net/http"

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
		// The decoder's own message may quote the body (a value sent
		// bare, not as JSON): it is not passed on.
		dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeErr(w, fail.BadRequest(`the body must be JSON {"value": "…"} with the key as a string (at most %d bytes)`, maxBody))
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
	m.HandleFunc("GET "+Prefix+"/providers", call(200, func(r *http.Request, _ none) ([]vaultapi.Provider, error) {
		return s.Providers(r.Context())
	}))
}
