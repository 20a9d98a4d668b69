package oauth

import (
	"crypto/tls"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

func tlsConfig(ca *testkit.CA) *tls.Config { return &tls.Config{RootCAs: ca.Pool} }
