#!/usr/bin/env bash
# Runs Warden's whole test suite: installs the pinned peer tools (cosign, crane, govulncheck, indexdb, the OCI
# conformance suite) from the Go module proxy, then go vet and the Go tests, with the peers on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/tools.sh
export PATH="$(go env GOPATH)/bin:$PATH"
go vet ./...
export WARDEN_TEST_SUMMARY
WARDEN_TEST_SUMMARY=$(mktemp)
trap 'rm -f "$WARDEN_TEST_SUMMARY"' EXIT
status=0
go test -count=1 -timeout 40m ./... || status=$?
echo "--- peer summaries (from the tests):"
cat "$WARDEN_TEST_SUMMARY"
exit $status
