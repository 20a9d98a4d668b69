package daemon

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/audit"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// callerOf reads who is asking from the peer credentials the kit server
// records (unixhttp.WithPeerCred); unknown credentials are nobody, never root.
func callerOf(r *http.Request) Caller {
	if p, ok := unixhttp.PeerCred(r.Context()); ok {
		return Caller{UID: p.UID, Root: p.UID == 0}
	}
	return Caller{UID: -1}
}

func status(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknown), errors.Is(err, audit.ErrNoLog):
		return http.StatusNotFound
	case errors.Is(err, ErrAmbiguous):
		return http.StatusConflict
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrGone):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// Handler is the shield.sock API. A failure of the daemon's own (500)
// is noted on the request's access line (kit/httpmw).
func Handler(m *Manager) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+health.Path, health.Handler("terok-shield", buildinfo.Version, nil))
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		code := status(err)
		if code >= 500 {
			httpmw.LineOf(r.Context()).Fail(err.Error())
		}
		unixhttp.WriteError(w, code, err)
	}
	reply := func(w http.ResponseWriter, r *http.Request, v any, err error) {
		if err != nil {
			fail(w, r, err)
			return
		}
		unixhttp.WriteJSON(w, http.StatusOK, v)
	}
	mux.HandleFunc("POST /v1/containers", func(w http.ResponseWriter, r *http.Request) {
		var req shieldapi.ArmRequest
		if err := unixhttp.DecodeJSON(r, 1<<20, &req); err != nil {
			fail(w, r, errors.Join(err, ErrBadRequest))
			return
		}
		st, err := m.Arm(r.Context(), callerOf(r), req)
		reply(w, r, st, err)
	})
	mux.HandleFunc("GET /v1/containers", func(w http.ResponseWriter, r *http.Request) {
		unixhttp.WriteJSON(w, http.StatusOK, m.List())
	})
	mux.HandleFunc("GET /v1/containers/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, err := m.Status(r.PathValue("id"))
		reply(w, r, st, err)
	})
	mux.HandleFunc("DELETE /v1/containers/{id}", func(w http.ResponseWriter, r *http.Request) {
		err := m.Disarm(callerOf(r), r.PathValue("id"))
		reply(w, r, struct{}{}, err)
	})
	mux.HandleFunc("POST /v1/containers/{id}/allow", func(w http.ResponseWriter, r *http.Request) {
		var req shieldapi.TargetRequest
		if err := unixhttp.DecodeJSON(r, 64<<10, &req); err != nil {
			fail(w, r, errors.Join(err, ErrBadRequest))
			return
		}
		st, err := m.Allow(r.Context(), callerOf(r), r.PathValue("id"), req.Target, req.For)
		reply(w, r, st, err)
	})
	mux.HandleFunc("POST /v1/containers/{id}/deny", func(w http.ResponseWriter, r *http.Request) {
		var req shieldapi.TargetRequest
		if err := unixhttp.DecodeJSON(r, 64<<10, &req); err != nil {
			fail(w, r, errors.Join(err, ErrBadRequest))
			return
		}
		if req.For != "" {
			fail(w, r, errors.Join(errors.New("deny takes no duration"), ErrBadRequest))
			return
		}
		st, err := m.Deny(r.Context(), callerOf(r), r.PathValue("id"), req.Target)
		reply(w, r, st, err)
	})
	mux.HandleFunc("POST /v1/containers/{id}/mode", func(w http.ResponseWriter, r *http.Request) {
		var req shieldapi.ModeRequest
		if err := unixhttp.DecodeJSON(r, 4<<10, &req); err != nil {
			fail(w, r, errors.Join(err, ErrBadRequest))
			return
		}
		st, err := m.SetMode(r.Context(), callerOf(r), r.PathValue("id"), req.Mode)
		reply(w, r, st, err)
	})
	mux.HandleFunc("POST /v1/panic", func(w http.ResponseWriter, r *http.Request) {
		res, err := m.Panic(r.Context(), callerOf(r))
		reply(w, r, res, err)
	})
	mux.HandleFunc("GET /v1/containers/{id}/rules", func(w http.ResponseWriter, r *http.Request) {
		res, err := m.Rules(r.PathValue("id"))
		reply(w, r, res, err)
	})
	mux.HandleFunc("GET /v1/profiles", func(w http.ResponseWriter, r *http.Request) {
		ps, err := m.Profiles()
		reply(w, r, ps, err)
	})
	mux.HandleFunc("GET /v1/containers/{id}/audit", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		m.mu.Lock()
		if c, err := m.findLocked(id); err == nil {
			id = c.st.ID
		}
		m.mu.Unlock()
		full, err := m.hub.Resolve(id)
		if err != nil {
			fail(w, r, err)
			return
		}
		follow := r.URL.Query().Get("follow") == "1"
		evs, ch, cancel, err := m.hub.Read(full, follow)
		if err != nil {
			fail(w, r, err)
			return
		}
		defer cancel()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		fl, _ := w.(http.Flusher)
		for _, ev := range evs {
			_ = enc.Encode(ev)
		}
		if fl != nil {
			fl.Flush()
		}
		if !follow {
			return
		}
		keep := time.NewTicker(30 * time.Second)
		defer keep.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-ch:
				if err := enc.Encode(ev); err != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			case <-keep.C:
				// an empty line keeps idle proxies from closing the stream
				if _, err := w.Write([]byte("\n")); err != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			}
		}
	})
	return mux
}
