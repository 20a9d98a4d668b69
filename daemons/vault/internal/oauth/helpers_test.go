package oauth

import (
	"crypto/tls"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/fakeupstream"
)

func tlsConfig(ca *fakeupstream.CA) *tls.Config { return &tls.Config{RootCAs: ca.Pool} }
