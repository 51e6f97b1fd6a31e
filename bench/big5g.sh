#!/usr/bin/env bash
# Issue #17: peak RSS of `warden scan` and `warden sbom` on a 10-layer image of over 5 GB unpacked, cold (no layer
# cache), beside Trivy in the same run. The image is made from what this machine has (no registry to pull from):
#   layer 1     a Debian base: /usr/bin, the real dpkg database, os-release
#   layer 2     Go toolchains and Go programs: /usr/local/go, $GOPATH/bin, /var/cache/warden-ci (etcd, kube-apiserver,
#               weed), so the Go binary reader sees large binaries
#   layer 3     /usr/share
#   layers 4-10 /usr/lib, split into 7 layers of about the same size
# Usage: bench/big5g.sh WORKDIR [STATE]   STATE: a warden --cache-dir with a database (default: WORKDIR/state, filled
#        from the corpus with `warden db import` when it has none). Needs GNU time; trivy and grype from
#        bench/peers.sh are optional (PATH=/tmp/peers:$PATH). PEERDB=DIR (bench/scan.sh's work directory, which holds
#        trivy-db/ and grype-db/ built from the same Alpine + Go data) adds their vulnerability scans. The image
#        (about 2 GB compressed) is left in WORKDIR; remove it after.
set -euo pipefail
W=${1:?usage: bench/big5g.sh WORKDIR [STATE]}
S=${2:-$W/state}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$W/bin" "$W/layers"
tags=$(bash "$here/scripts/buildtags.sh")
(cd "$here" && go build -tags "$tags" -o "$W/bin/" ./cmd/warden ./bench/cmd/mkimage)
img=$W/image.tar

if [ ! -f "$img" ]; then
  echo "== building the image in $W ($(date -u +%T))"
  lists=$W/layers
  printf '%s\n' usr/bin var/lib/dpkg etc/os-release usr/lib/os-release etc/debian_version >"$lists/1"
  {
    echo usr/local/go
    [ -d "${GOPATH:-/root/go}/bin" ] && echo "${GOPATH:-/root/go}/bin" | sed 's,^/,,'
    [ -d /var/cache/warden-ci ] && echo var/cache/warden-ci
  } >"$lists/2"
  echo usr/share >"$lists/3"
  # /usr/lib's entries, largest first, each to the lightest of 7 bins
  du -s --block-size=1M /usr/lib/* 2>/dev/null | sort -rn | awk -v dir="$lists" '
    { best = 4; for (b = 5; b <= 10; b++) if (size[b] < size[best]) best = b
      size[best] += $1; sub("^/", "", $2); print $2 > (dir "/" best) }'
  for i in $(seq 1 10); do
    # two layers at a time: gzip -1 keeps the build short; the walk does not care how hard a layer was compressed
    (tar -C / -cf - -T "$lists/$i" 2>/dev/null | gzip -1 >"$lists/l$i.tar.gz") &
    if (( i % 2 == 0 )); then wait; fi
  done
  wait
  "$W/bin/mkimage" -docker-archive "$img" $(for i in $(seq 1 10); do echo "$lists/l$i.tar.gz"; done)
  rm -f "$lists"/l*.tar.gz
fi
unpacked=0
for i in $(seq 1 10); do unpacked=$((unpacked + $(tar -C / -cf - -T "$W/layers/$i" 2>/dev/null | wc -c))); done
echo "image: 10 layers, $((unpacked / 1048576)) MB unpacked, $(($(stat -c %s "$img") / 1048576)) MB as a docker-archive"

if [ ! -f "$S/db" ]; then
  mkdir -p "$S"
  c=$here/../shared/corpus/feeds
  [ -d "$c" ] || c=/work/shared/corpus/feeds
  "$W/bin/warden" --cache-dir "$S" db import "$c/alpine-secdb" "$c/go-vulndb-osv-all.zip" >/dev/null
fi

# run LABEL CMD...: wall s, CPU s, peak RSS MB of one run (GNU time)
run() {
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/time.out" "$@" >"$W/out.$label" 2>"$W/err.$label" || echo "($label exited $?)"
  read -r e u s m < <(tail -n 1 "$W/time.out") # GNU time puts "Command exited with non-zero status" first
  printf '| %s | %s | %.2f | %d |\n' "$label" "$e" "$(echo "$u + $s" | bc)" $((m / 1024))
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "| run | wall s | CPU s | peak RSS MB |"
echo "|---|---|---|---|"
run "warden scan --no-cache" "$W/bin/warden" --cache-dir "$S" scan --format json --no-cache "docker-archive:$img"
run "warden scan --no-cache, pure Go inflate" env WARDEN_IGZIP=off "$W/bin/warden" --cache-dir "$S" scan --format json --no-cache "docker-archive:$img"
run "warden sbom --no-cache" "$W/bin/warden" sbom --no-cache --format cyclonedx-json "docker-archive:$img"
if command -v trivy >/dev/null; then
  # Trivy cannot read the image's 600-odd jars offline (its Java DB is downloaded on first use): those directories
  # are left out for it, so it has less to do than Warden.
  jars=usr/share/java,usr/share/maven-repo,usr/share/maven,usr/lib/jvm,usr/lib/google-cloud-sdk,usr/share/ca-certificates-java
  run "trivy image --format cyclonedx (sbom; jar directories skipped)" trivy image --quiet --cache-backend memory \
    --skip-db-update --skip-java-db-update --skip-version-check --disable-telemetry --offline-scan --format cyclonedx \
    --skip-dirs "$jars" --input "$img"
  if [ -f "${PEERDB:-/nonexistent}/trivy-db/db/trivy.db" ]; then
    run "trivy image --scanners vuln (jar directories skipped)" trivy image --quiet --cache-backend memory \
      --cache-dir "$PEERDB/trivy-db" --scanners vuln --skip-db-update --skip-java-db-update --skip-version-check \
      --disable-telemetry --offline-scan --format json --skip-dirs "$jars" --input "$img"
  fi
fi
if command -v grype >/dev/null && [ -f "${PEERDB:-/nonexistent}/grype-db/6/vulnerability.db" ]; then
  # Grype has no layer cache and no offline Java lookup to skip: it scans everything, as Warden does.
  run "grype (vulnerability scan)" env GRYPE_DB_CACHE_DIR="$PEERDB/grype-db" GRYPE_DB_AUTO_UPDATE=false \
    GRYPE_DB_VALIDATE_AGE=false GRYPE_DB_REQUIRE_UPDATE_CHECK=false GRYPE_CHECK_FOR_APP_UPDATE=false \
    grype -q -o json "docker-archive:$img"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
