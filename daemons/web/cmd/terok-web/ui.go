package main

import (
	"net/http"
	"os"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/ui"
)

// browserUI is the TCP listener's handler: the browser UI's pages at /,
// everything else (the API, task proxies) behind the access token as a
// bearer header or the UI's session cookie (with CSRF on mutations).
func browserUI(cfg Config, log zerolog.Logger, token string, h http.Handler) (http.Handler, error) {
	a := auth.New(token)
	a.Methods = append(a.Methods, auth.Cookie(token))
	return ui.New(ui.Config{Token: token, PublicURL: cfg.PublicURL, PublicHost: os.Getenv("TEROK_PUBLIC_HOST"),
		Log: log.With().Str("component", "ui").Logger()}, a.Require(h))
}
