#!/usr/bin/env bash
# Warden's main job, offline, from a fresh clone: build the binary, import the vulnerability-feed slice that ships
# in testdata/feeds, and scan the Alpine 3.19.4 image that ships in testdata/images. It reports CVE-2024-9143 on
# libcrypto3 and libssl3 3.1.7-r0 (fixed in 3.1.7-r1).
#
# State (the database and the layer cache) goes to $WARDEN_CACHE_DIR when set, else to a temporary directory
# that is removed at the end. Extra arguments are passed to `warden scan` (e.g. --format json, --fail-on HIGH).
set -euo pipefail
cd "$(dirname "$0")/.."

feeds=testdata/feeds
image=oci-layout:testdata/images/alpine-3.19.4
if [ ! -d "$feeds" ]; then
  echo "demo: $feeds is missing (it holds the feed slice the demo imports)" >&2
  exit 1
fi

state=${WARDEN_CACHE_DIR:-}
if [ -z "$state" ]; then
  state=$(mktemp -d "${TMPDIR:-/tmp}/warden-demo.XXXXXX")
  trap 'rm -rf "$state"' EXIT
fi
export WARDEN_CACHE_DIR=$state

run() { echo "+ $*" >&2; "$@"; }

# Progress and database output go to standard error; standard output is the scan report alone.
run go build -tags "$(bash scripts/buildtags.sh)" -o bin/warden ./cmd/warden
run bin/warden db import "$feeds" >&2
run bin/warden db status >&2
run bin/warden scan "$image" "$@"
