# terok-in-Docker. `make run` runs the product, `make test` passes its tests.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo.Version=$(VERSION)
export CGO_ENABLED ?= 0

# Every directory holding a main package becomes bin/<dir name>.
CMD_DIRS := $(wildcard supervisor/cmd/* daemons/*/cmd/*)

.PHONY: all build test lint bench run run-native image e2e deps clean task-image
all: build

build:
	@mkdir -p bin
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./,$(CMD_DIRS))

test:
	bash scripts/test.sh

deps:
	bash scripts/deps.sh

lint:
	bash scripts/lint.sh

bench:
	bash scripts/bench.sh

# The product: the Docker image, built if needed and started (scripts/image.sh).
run:
	bash scripts/image.sh run

# The native tree under terok-supervisord, without Docker (scripts/run.sh).
run-native: build
	bash scripts/run.sh

# The default task image, localhost/terok-base:latest, into the running tree.
task-image: build
	bash scripts/task-image.sh

# The Docker image terok-in-docker:latest, with no registry needed.
image:
	bash scripts/image.sh build

# The whole-tree tests alone (they are part of make test too). Needs root.
e2e: build
	bash scripts/deps.sh
	TEROK_TEST_STRICT=1 go test -count=1 -v ./e2e/...

clean:
	rm -rf bin .run
