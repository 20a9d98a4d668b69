package main

import (
	"net/http"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/ui"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
)

// browserUI is the TCP listener's handler: the browser UI's pages at /,
// everything else (the API) behind the access token as a bearer header or
// a browser session (with CSRF on mutations).
func browserUI(cfg Config, log zerolog.Logger, token string, sessions *auth.Sessions, lim *auth.Limiter, addrs *webproxy.Addresses, h http.Handler) (http.Handler, error) {
	a := &auth.Auth{Methods: []auth.Method{auth.Bearer(token, lim), auth.Cookie(sessions)}}
	return ui.New(ui.Config{Token: token, Sessions: sessions, Limiter: lim, PublicURL: cfg.PublicURL,
		FrameSource: addrs.FrameSource, Log: log.With().Str("component", "ui").Logger()}, a.Require(h))
}
