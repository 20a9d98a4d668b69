module github.com/terok-ai/terok-in-docker/e2e

go 1.26.0

replace github.com/terok-ai/terok-in-docker/daemons/kit => ../daemons/kit
