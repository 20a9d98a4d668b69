module github.com/terok-ai/terok-in-docker/daemons/web

go 1.26.0

require (
	github.com/Masterminds/semver/v3 v3.4.0
	github.com/coder/websocket v1.8.15
	github.com/rs/zerolog v1.35.1
	github.com/terok-ai/terok-in-docker/daemons/gate v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/kit v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/podman-service v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/shield v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/vault v0.0.0
	github.com/terok-ai/terok-in-docker/supervisor v0.0.0
	github.com/urfave/cli/v2 v2.27.7
	go.uber.org/goleak v1.3.0
	go.yaml.in/yaml/v3 v3.0.4
	golang.org/x/sync v0.25.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
)

replace github.com/terok-ai/terok-in-docker/daemons/kit => ../kit

replace (
	github.com/terok-ai/terok-in-docker/daemons/gate => ../gate
	github.com/terok-ai/terok-in-docker/daemons/podman-service => ../podman-service
	github.com/terok-ai/terok-in-docker/daemons/shield => ../shield
	github.com/terok-ai/terok-in-docker/daemons/vault => ../vault
	github.com/terok-ai/terok-in-docker/supervisor => ../../supervisor
)
