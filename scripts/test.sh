#!/usr/bin/env bash
# Runs Warden's whole test suite: installs the pinned peer tools (cosign, crane, govulncheck, the OCI conformance
# suite) from the Go module proxy, then the Go tests, with the peers on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/tools.sh
export PATH="$(go env GOPATH)/bin:$PATH"
go vet ./...
go test -count=1 -timeout 40m ./...
