#!/usr/bin/env bash
# Installs the peer tools that bench/foundation.sh and bench/scan.sh compare Warden with, built from the Go module
# proxy into $PEERS (default /tmp/peers). Never run in CI, never committed: these builds take 10-40 minutes each on
# a busy 2-core machine, so they run under nice and are skipped when the binary is already there.
#   trivy     v0.74.0 (needs GOEXPERIMENT=jsonv2 to build)
#   syft      v1.57.1
#   grype     v0.121.3 (the release whose go.mod requires syft v1.57.1)
#   trivy-db  the builder of Trivy's database (build --only-update ... over a vuln-list folder layout)
#   grypedb   bench/cmd/grypedb (grype/db.Build over vunnel flat-file results), built in a throwaway module
#             under $PEERS/grypedb-src that requires grype v0.121.3: Grype never enters Warden's go.mod
# Usage: bench/peers.sh [tool...]   (default: all four), then export PATH=$PEERS:$PATH
set -euo pipefail
PEERS=${PEERS:-/tmp/peers}
mkdir -p "$PEERS"
declare -A mod=(
  [trivy]=github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
  [syft]=github.com/anchore/syft/cmd/syft@v1.57.1
  [grype]=github.com/anchore/grype/cmd/grype@v0.121.3
  [trivy-db]=github.com/aquasecurity/trivy-db/cmd/trivy-db@v0.0.0-20260813095258-0e0340a01b57
)
tools=("$@")
[ ${#tools[@]} -eq 0 ] && tools=(trivy-db trivy syft grype grypedb)
here=$(cd "$(dirname "$0")" && pwd)
for t in "${tools[@]}"; do
  if [ "$t" = grypedb ]; then
    if [ -x "$PEERS/grypedb" ]; then echo "grypedb: already in $PEERS"; continue; fi
    echo "grypedb: building ($(date -u +%H:%M:%S))"
    src="$PEERS/grypedb-src"; rm -rf "$src"; mkdir -p "$src"
    cp "$here/cmd/grypedb/main.go" "$src/"
    (cd "$src" && printf 'module wardenbench/grypedb\n\ngo 1.26\n' > go.mod &&
      go get github.com/anchore/grype@v0.121.3 github.com/OneOfOne/xxhash@v1.2.8 &&
      go mod tidy && nice -n 10 go build -tags grypedb -o "$PEERS/grypedb" .)
    echo "grypedb: done ($(date -u +%H:%M:%S))"
    continue
  fi
  m=${mod[$t]:?unknown tool $t (one of: ${!mod[*]})}
  if [ -x "$PEERS/$t" ]; then echo "$t: already in $PEERS"; continue; fi
  echo "$t: go install $m ($(date -u +%H:%M:%S))"
  # trivy does not build without GOEXPERIMENT=jsonv2; the others are built without it so that grype reuses the
  # build cache of syft (GOEXPERIMENT changes every cache key).
  x=; [ "$t" = trivy ] && x=jsonv2
  GOBIN="$PEERS" GOEXPERIMENT=$x nice -n 10 go install "$m"
  echo "$t: done ($(date -u +%H:%M:%S))"
done
