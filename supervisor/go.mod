module github.com/terok-ai/terok-in-docker/supervisor

go 1.26.0

require github.com/terok-ai/terok-in-docker/daemons/kit v0.0.0

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.1.1 // indirect
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/golang/protobuf v1.4.3 // indirect
	github.com/gorilla/rpc v1.2.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/matttproud/golang_protobuf_extensions v1.0.1 // indirect
	github.com/ochinchina/filechangemonitor v0.3.1 // indirect
	github.com/ochinchina/go-ini v1.0.1 // indirect
	github.com/ochinchina/gorilla-xmlrpc v0.0.0-20171012055324-ecf2fe693a2c // indirect
	github.com/ochinchina/supervisord/config v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/ochinchina/supervisord/events v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/ochinchina/supervisord/faults v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/ochinchina/supervisord/logger v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/ochinchina/supervisord/process v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/ochinchina/supervisord/signals v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/ochinchina/supervisord/types v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/ochinchina/supervisord/util v0.0.0-20210503132557-74b0760cc12e // indirect
	github.com/prometheus/client_golang v1.10.0 // indirect
	github.com/prometheus/client_model v0.2.0 // indirect
	github.com/prometheus/common v0.18.0 // indirect
	github.com/prometheus/procfs v0.6.0 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	github.com/rogpeppe/go-charset v0.0.0-20190617161244-0dc95cdf6f31 // indirect
	github.com/rs/zerolog v1.35.1 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/sirupsen/logrus v1.8.1 // indirect
	github.com/urfave/cli/v2 v2.27.7 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.23.0 // indirect
)

replace github.com/terok-ai/terok-in-docker/daemons/kit => ../daemons/kit
