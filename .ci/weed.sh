#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the S3-compatible server the registry's S3 and several-replica tests talk to) from the
# Go module proxy, cached by version under /var/cache/warden-ci. Prints the binary's path.
# Its go.mod has replace directives, so `go install mod@version` refuses it: download the module and build in it.
set -euo pipefail
ver=v0.0.0-20261109003541-7506e5f91cd6
cache=${WARDEN_CI_CACHE:-/var/cache/warden-ci}
out=$cache/weed-$ver
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$cache"
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "weed.sh: go mod download of seaweedfs@$ver gave no directory" >&2; exit 1; }
echo "weed.sh: building weed ($ver), this takes several minutes" >&2
(cd "$dir" && GOFLAGS=-mod=mod nice -n 19 go build -trimpath -o "$out.tmp" ./weed)
mv "$out.tmp" "$out"
echo "$out"
