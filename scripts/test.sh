#!/usr/bin/env bash
# The one test command (make test, and .ci/run): installs what is missing,
# builds every binary, lints, then runs every module's tests in one go test
# run (packages in parallel). Missing prerequisites fail tests here
# (TEROK_TEST_STRICT=1) instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make --no-print-directory build
make --no-print-directory lint
export TEROK_TEST_STRICT=1
pkgs=()
for m in $(scripts/modules.sh); do
  [ "$m" = supervisor ] || pkgs+=("./$m/...")
done
# The supervisor (process lifecycles, signals, a reaper, concurrent XML-RPC)
# runs under the race detector, its daemon binary too (TKSUP_RACE=1), beside
# the other modules' tests; a reported race fails its test. The race
# detector needs cgo, which the Makefile turns off for the static binaries.
CGO_ENABLED=1 TKSUP_RACE=1 go test -race -timeout 25m -count=1 "$@" ./supervisor/... &
race=$!
rc=0
go test -timeout 25m -count=1 "$@" "${pkgs[@]}" || rc=$?
# The gate's checks of upload-pack requests under Go's fuzzer, bounded
# (the seed corpus already ran above); a finding is saved under the
# package's testdata/fuzz/ and fails the run.
go test -run '^$' -fuzz '^FuzzUploadRequest$' -fuzztime 10s -parallel 1 ./daemons/gate/internal/smarthttp || rc=$?
wait $race || rc=$?
exit $rc
