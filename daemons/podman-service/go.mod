module github.com/terok-ai/terok-in-docker/daemons/podman-service

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/containers/common v0.64.2
	github.com/rs/zerolog v1.35.1
	github.com/terok-ai/terok-in-docker/daemons/kit v0.0.0
	github.com/urfave/cli/v2 v2.27.7
)

require (
	github.com/containers/storage v1.59.1 // indirect
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/cyphar/filepath-securejoin v0.4.1 // indirect
	github.com/docker/go-units v0.5.0 // indirect
	github.com/hashicorp/errwrap v1.1.0 // indirect
	github.com/hashicorp/go-multierror v1.1.1 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/moby/sys/capability v0.4.0 // indirect
	github.com/moby/sys/mountinfo v0.7.2 // indirect
	github.com/moby/sys/user v0.4.0 // indirect
	github.com/opencontainers/runc v1.3.0 // indirect
	github.com/opencontainers/runtime-spec v1.2.1 // indirect
	github.com/opencontainers/selinux v1.12.0 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/sirupsen/logrus v1.9.3 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/sys v0.38.0 // indirect
	tags.cncf.io/container-device-interface v1.0.1 // indirect
)

replace github.com/terok-ai/terok-in-docker/daemons/kit => ../kit
