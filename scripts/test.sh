#!/usr/bin/env bash
# The one test command (make test, and .ci/run): installs what is missing,
# builds every binary, lints, then runs every module's tests (packages in
# parallel, two go test runs side by side). Missing prerequisites fail tests here
# (TEROK_TEST_STRICT=1) instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make --no-print-directory build
make --no-print-directory lint
export TEROK_TEST_STRICT=1
# Every module's unit and integration packages run under the race
# detector (a reported race fails its test); the supervisor's daemon
# binary too (TKSUP_RACE=1), as its tests start it. The race detector
# needs cgo, which the Makefile turns off for the static binaries. The
# whole-tree tests (e2e/, e2e/docker) drive the built binaries and run
# without it, beside the others.
race=()
for m in $(scripts/modules.sh); do
  [ "$m" = e2e ] || race+=("./$m/...")
done
CGO_ENABLED=1 TKSUP_RACE=1 go test -race -timeout 25m -count=1 "$@" "${race[@]}" &
racing=$!
rc=0
go test -timeout 25m -count=1 "$@" ./e2e/... || rc=$?
# The gate's checks of upload-pack requests under Go's fuzzer, bounded
# (the seed corpus already ran above); a finding is saved under the
# package's testdata/fuzz/ and fails the run. The bound is a count of
# inputs (about 10 s on an idle machine), not a time: a time bound
# fails at its end now and then when the machine is busy (a race in Go's
# fuzzing coordinator, "context deadline exceeded" with no input found).
go test -run '^$' -fuzz '^FuzzUploadRequest$' -fuzztime 50000x -parallel 1 ./daemons/gate/internal/smarthttp || rc=$?
# terok-web's TCP listener under the fuzzer, the same way: requests of
# the API and the UI (method, target, JSON body; with the token and
# without), and bytes on the events' and a terminal's WebSocket, each
# against a real terok-web on loopback (about 10 s each).
go test -run '^$' -fuzz '^FuzzWebAPI$' -fuzztime 8000x -parallel 1 ./daemons/web/internal/server || rc=$?
go test -run '^$' -fuzz '^FuzzWebSocketFrames$' -fuzztime 5000x -parallel 1 ./daemons/web/internal/server || rc=$?
wait $racing || rc=$?
exit $rc
