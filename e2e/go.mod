module github.com/terok-ai/terok-in-docker/e2e

go 1.26.0

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.23.1
	github.com/coder/websocket v1.8.15
	github.com/miekg/dns v1.1.73
	github.com/terok-ai/terok-in-docker/daemons/gate v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/kit v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/podman-service v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/shield v0.0.0
	github.com/terok-ai/terok-in-docker/daemons/web v0.0.0
)

require (
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/rs/zerolog v1.35.1 // indirect
	github.com/terok-ai/terok-in-docker/daemons/vault v0.0.0 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace (
	github.com/terok-ai/terok-in-docker/daemons/gate => ../daemons/gate
	github.com/terok-ai/terok-in-docker/daemons/kit => ../daemons/kit
	github.com/terok-ai/terok-in-docker/daemons/podman-service => ../daemons/podman-service
	github.com/terok-ai/terok-in-docker/daemons/shield => ../daemons/shield
	github.com/terok-ai/terok-in-docker/daemons/vault => ../daemons/vault
	github.com/terok-ai/terok-in-docker/daemons/web => ../daemons/web
	github.com/terok-ai/terok-in-docker/supervisor => ../supervisor
)
