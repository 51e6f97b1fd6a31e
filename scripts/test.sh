#!/usr/bin/env bash
# Runs Warden's whole test suite: installs the pinned peer tools (cosign, crane, govulncheck, indexdb, the OCI
# conformance suite) from the Go module proxy, then go vet and the Go tests, with the peers on PATH. The tests are
# built with the tags of scripts/buildtags.sh ("isal" when libisal-dev is installed, as .ci/run does; in CI the
# tests of the built-in ISA-L inflater fail without it); go vet checks the pure Go build too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/tools.sh
export PATH="$(go env GOPATH)/bin:$PATH"
tags=$(bash scripts/buildtags.sh)
echo "build tags: ${tags:-(none: pure Go, no built-in ISA-L)}"
go vet ./...
[ -z "$tags" ] || go vet -tags "$tags" ./...
export WARDEN_TEST_SUMMARY
WARDEN_TEST_SUMMARY=$(mktemp)
log=$(mktemp)
# The tests get a HOME and DOCKER_CONFIG of their own, so that nothing the machine's user has (a `docker login`, a
# credsStore, cosign's TUF cache) changes what they see; Go's own directories stay where they are, and the Docker
# Engine is reached through its socket, not the user's config.
export GOPATH GOCACHE GOMODCACHE
GOPATH=$(go env GOPATH) GOCACHE=$(go env GOCACHE) GOMODCACHE=$(go env GOMODCACHE)
testhome=$(mktemp -d)
trap 'rm -rf "$WARDEN_TEST_SUMMARY" "$log" "$testhome"' EXIT
export HOME=$testhome DOCKER_CONFIG=$testhome/.docker
status=0
go test -tags "$tags" -count=1 -timeout 40m ./... 2>&1 | tee "$log" || status=$?
echo "--- peer summaries (written by the tests):"
cat "$WARDEN_TEST_SUMMARY"
ok=$(grep -c '^ok ' "$log" || true)
failed=$(grep -cE '^FAIL\s' "$log" || true)
echo "packages: $ok passed, $failed failed"
exit $status
