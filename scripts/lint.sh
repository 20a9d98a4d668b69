#!/usr/bin/env bash
# gofmt, go vet and staticcheck over every module of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
mods=$(scripts/modules.sh)
bad=$(gofmt -l $mods)
if [ -n "$bad" ]; then echo "gofmt: these files need gofmt -w:"; echo "$bad"; exit 1; fi
pkgs=(); for m in $mods; do pkgs+=("./$m/..."); done
go vet "${pkgs[@]}"
go run honnef.co/go/tools/cmd/staticcheck@v0.7.0 "${pkgs[@]}"
