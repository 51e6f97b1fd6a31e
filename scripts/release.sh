#!/usr/bin/env bash
# Builds Warden's release artifacts from the checked-out commit into dist/ (or $DIST):
#   warden-linux-amd64    static (no shared libraries), ISA-L's inflater linked in from a static libisal.a
#                          (scripts/isal-static.sh), cgo with the netgo/osusergo tags
#   warden-linux-arm64,   pure Go (CGO_ENABLED=0): they inflate with Go, or an installed igzip process
#   warden-darwin-arm64
#   warden-image/          Warden's own image as an OCI layout, tagged VERSION (org.opencontainers.image.ref.name),
#                          with its cosign signature and SBOM attestation; warden-image.tar, the same image as a
#                          `docker load` archive tagged warden:VERSION
#   warden.cdx.json        CycloneDX SBOM of the binaries (warden sbom)
#   SHA256SUMS             of every file above, and FILE.sig: the base64 signature of each file (cosign
#                          sign-blob --key format; warden verify-blob or cosign verify-blob checks it)
#   warden-release.pub     the public key the signatures verify with
# Every build is -trimpath, stamped with the version, the commit and the commit's date (not the build's), so two builds
# of one commit are byte-identical (internal/release's TestReproducible checks it).
#
# Environment: VERSION (default: the tag on HEAD, else a Go pseudo-version v0.0.0-DATE-COMMIT12);
# WARDEN_RELEASE_KEY, a private key file (password in WARDEN_PASSWORD); without it a new key pair is made for this
# release and only its public half is kept. Options: --binaries-only (no image, SBOM or signatures).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
binaries_only=false
for a in "$@"; do
  case $a in
    --binaries-only) binaries_only=true ;;
    *) echo "release: unknown option $a" >&2; exit 1 ;;
  esac
done

dist=${DIST:-dist}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
log() { echo "release: $*" >&2; }

commit=$(git rev-parse HEAD)
epoch=$(git log -1 --format=%ct HEAD)
date=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD)
if [ -z "${VERSION:-}" ]; then
  VERSION=$(git describe --tags --exact-match HEAD 2>/dev/null ||
    echo "v0.0.0-$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd HEAD)-${commit:0:12}")
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  log "warning: the work tree has changes; the binaries say vcs.modified=true and are not the commit's"
fi
export SOURCE_DATE_EPOCH=$epoch
ldflags="-s -w -X main.version=$VERSION -X main.commit=$commit -X main.date=$date"

build() { # GOOS GOARCH CGO extra-args...
  local os=$1 arch=$2 cgo=$3; shift 3
  log "building warden-$os-$arch ($VERSION)"
  GOOS=$os GOARCH=$arch CGO_ENABLED=$cgo GOFLAGS=-mod=readonly \
    go build -trimpath -buildvcs=true "$@" -o "$dist/warden-$os-$arch" ./cmd/warden
}

isal=$(bash scripts/isal-static.sh)
CGO_CFLAGS="-O2 -I$isal/include" CGO_LDFLAGS="-L$isal/lib" \
  build linux amd64 1 -tags "isal netgo osusergo" -ldflags "$ldflags -linkmode external -extldflags -static"
build linux arm64 0 -ldflags "$ldflags"
build darwin arm64 0 -ldflags "$ldflags"
bin=$dist/warden-linux-amd64
"$bin" version >&2
$binaries_only && exit 0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warden-release.XXXXXX")
serve_pid=
cleanup() {
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
  [ -z "$serve_pid" ] || wait "$serve_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export WARDEN_CACHE_DIR=$tmp/state

# The SBOM of the three binaries (Go build info: Warden's modules and the toolchain).
mkdir -p "$tmp/bins"
cp "$dist"/warden-linux-amd64 "$dist"/warden-linux-arm64 "$dist"/warden-darwin-arm64 "$tmp/bins/"
log "SBOM of the binaries: warden.cdx.json"
"$bin" sbom --no-cache --format cyclonedx-json --output "$dist/warden.cdx.json" "dir:$tmp/bins"

# The signing key: the release's own, or a new pair whose private half is thrown away at the end.
key=${WARDEN_RELEASE_KEY:-}
if [ -z "$key" ]; then
  log "no WARDEN_RELEASE_KEY: signing with a new key pair made for this release (only warden-release.pub is kept)"
  export WARDEN_PASSWORD
  WARDEN_PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  "$bin" keygen --output-key-prefix "$tmp/release" >&2
  key=$tmp/release.key
  cp "$tmp/release.pub" "$dist/warden-release.pub"
else
  "$bin" sign-blob --key "$key" --output-signature /dev/null "$bin" ||
    { log "cannot sign with $key (WARDEN_PASSWORD?)"; exit 1; }
fi

# Warden's image: built, pushed to a registry of our own on 127.0.0.1 (warden serve), signed and attested there with
# the release binary, then copied with its signatures into dist/warden-image.
log "building the image helper"
go build -trimpath -o "$tmp/releaseimage" ./internal/release/cmd/releaseimage
for try in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  "$bin" serve --no-scan --addr "127.0.0.1:$port" --root "$tmp/registry" >"$tmp/serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break 2
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
done
[ -n "$serve_pid" ] || { log "warden serve did not start:"; cat "$tmp/serve.log" >&2; exit 1; }
repo=127.0.0.1:$port/warden
log "image warden:$VERSION (pushed to $repo for signing)"
"$tmp/releaseimage" build --binary "$bin" --version "$VERSION" --revision "$commit" --epoch "$epoch" \
  --docker-archive "$dist/warden-image.tar" --push "$repo:$VERSION" >&2
"$bin" sbom --no-cache --format cyclonedx-json --output "$dist/warden-image.cdx.json" "registry:$repo:$VERSION"
"$bin" sign --key "$key" "$repo:$VERSION" >&2
"$bin" attest --key "$key" --type cyclonedx --predicate "$dist/warden-image.cdx.json" "$repo:$VERSION" >&2
"$tmp/releaseimage" layout --repo "$repo" --tag "$VERSION" --out "$dist/warden-image"
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve_pid=

# Checksums, then a signature of every file.
files=(warden-linux-amd64 warden-linux-arm64 warden-darwin-arm64 warden-image.tar warden.cdx.json warden-image.cdx.json)
(cd "$dist" && sha256sum "${files[@]}" > SHA256SUMS)
for f in "${files[@]}" SHA256SUMS; do
  "$bin" sign-blob --key "$key" --output-signature "$dist/$f.sig" "$dist/$f"
done
log "done: $dist (warden:$VERSION)"
ls -l "$dist" >&2
