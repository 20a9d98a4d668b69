package broker

import (
	"log"
	"strings"

	"github.com/rs/zerolog"
)

// stdLog sends net/http's own messages (a TLS or header error of a
// client) to the logger at debug level.
func stdLog(l zerolog.Logger) *log.Logger {
	return log.New(lineWriter{l}, "", 0)
}

type lineWriter struct{ l zerolog.Logger }

func (w lineWriter) Write(b []byte) (int, error) {
	w.l.Debug().Msg(strings.TrimSpace(string(b)))
	return len(b), nil
}
