module github.com/terok-ai/terok-in-docker/supervisor

go 1.26.0

require github.com/terok-ai/terok-in-docker/daemons/kit v0.0.0

replace github.com/terok-ai/terok-in-docker/daemons/kit => ../daemons/kit
