module github.com/terok-ai/terok-in-docker/daemons/vault

go 1.26.0

require (
	github.com/rs/zerolog v1.35.1
	github.com/terok-ai/terok-in-docker/daemons/kit v0.0.0
	github.com/urfave/cli/v2 v2.27.7
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)

replace github.com/terok-ai/terok-in-docker/daemons/kit => ../kit
