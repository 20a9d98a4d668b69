package unixhttp

import (
	"log"
	"strings"

	"github.com/rs/zerolog"
)

type zw struct{ l zerolog.Logger }

func (w zw) Write(p []byte) (int, error) {
	w.l.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

func stdLogger(l zerolog.Logger) *log.Logger {
	return log.New(zw{l: l.With().Str("from", "http").Logger()}, "", 0)
}
