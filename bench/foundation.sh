#!/usr/bin/env bash
# Speed benchmark of the scanner foundation (issue #2). Builds a large
# multi-layer image from what this machine has (no Debian mirror here):
#   layer 1  a Debian "base": the machine's /usr/bin, its real dpkg database
#            (/var/lib/dpkg: status + info/*.list) and os-release
#   layer 2  a Go toolchain: /usr/local/go
#   layer 3  an application: the warden binary and its config
# saves it as an OCI layout and a docker-archive, then measures in one run:
#   floor   inflating the largest layer with klauspost/compress
#   cold    Warden's walk with every extractor, no cache (what sbom does)
#   warm    the same with every layer cached
#   peak RSS of each (GNU time -v)
# and, when trivy / syft are on PATH, the same image through them:
#   GOEXPERIMENT=jsonv2 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
#   go install github.com/anchore/syft/cmd/syft@v1.57.1
# (they take long to build; never installed by CI).
#
# Usage: bench/foundation.sh [workdir]   (default /tmp/warden-bench; the image is reused)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-${BENCH_DIR:-/tmp/warden-bench}}
RUNS=${RUNS:-3}
mkdir -p "$W"
export PATH="$PATH:$(go env GOPATH)/bin"

echo "== building tools"
go build -o "$W/bin/" ./bench/cmd/walkbench ./bench/cmd/inflate ./bench/cmd/mkimage
go build -o "$W/bin/warden" ./cmd/warden

if [ ! -f "$W/image.tar" ]; then
  echo "== building the image in $W (once)"
  tar -C / -cf - usr/bin var/lib/dpkg etc/os-release usr/lib/os-release etc/debian_version 2>/dev/null | gzip -6 > "$W/l1.tar.gz"
  tar -C / -cf - usr/local/go 2>/dev/null | gzip -6 > "$W/l2.tar.gz"
  rm -rf "$W/app" && mkdir -p "$W/app/app" "$W/app/etc/warden"
  cp "$W/bin/warden" "$W/app/app/warden"
  cp "$W/bin/walkbench" "$W/app/app/worker"
  echo "log: info" > "$W/app/etc/warden/config.yaml"
  tar -C "$W/app" -cf - app etc | gzip -6 > "$W/l3.tar.gz"
  rm -rf "$W/oci"
  "$W/bin/mkimage" -oci "$W/oci" -docker-archive "$W/image.tar" "$W/l1.tar.gz" "$W/l2.tar.gz" "$W/l3.tar.gz"
fi

unpacked=0; compressed=0; largest=""; lsize=0
for l in "$W"/l1.tar.gz "$W"/l2.tar.gz "$W"/l3.tar.gz; do
  c=$(stat -c %s "$l"); compressed=$((compressed + c))
  u=$(gzip -dc "$l" | wc -c); unpacked=$((unpacked + u))
  if [ "$c" -gt "$lsize" ]; then lsize=$c; largest=$l; fi
done
echo "image: 3 layers, $((unpacked / 1048576)) MB unpacked, $((compressed / 1048576)) MB compressed; largest layer $(basename "$largest") $((lsize / 1048576)) MB"

# timed CMD...: runs CMD RUNS times; prints "best_wall_seconds max_rss_mb" (wall time of the
# whole process, start to exit; RSS from GNU time).
timed() {
  local best="" rss=0 t m s e
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    if ! /usr/bin/time -f "%M" -o "$W/time.log" "$@" >/dev/null 2>"$W/err.log"; then
      echo "failed: $*" >&2; tail -5 "$W/err.log" >&2; echo "NA NA"; return
    fi
    e=$(date +%s.%N)
    t=$(awk "BEGIN{printf \"%.3f\", $e - $s}")
    m=$(tail -1 "$W/time.log")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    if [ "$m" -gt "$rss" ]; then rss=$m; fi
  done
  echo "$best $((rss / 1024))"
}

echo "== floor: inflate the largest layer (klauspost/compress, best of 3)"
floor=$("$W/bin/inflate" -n 3 "$largest" | awk '{print $1}')
echo "floor $floor s"

echo "== warden walk (all extractors), $RUNS runs each, best time, peak RSS"
"$W/bin/walkbench" -oci "$W/oci" >/dev/null # page cache
read -r cold cold_rss < <(timed "$W/bin/walkbench" -oci "$W/oci")
rm -rf "$W/cache"; "$W/bin/walkbench" -oci "$W/oci" -cache "$W/cache" >/dev/null
read -r warm warm_rss < <(timed "$W/bin/walkbench" -oci "$W/oci" -cache "$W/cache")
read -r cold_da cold_da_rss < <(timed "$W/bin/walkbench" -docker-archive "$W/image.tar")
pk=$("$W/bin/walkbench" -oci "$W/oci" | awk '{print $2}')
echo "packages found: $pk"

# The CLI, when its sbom command is in place.
sbom_cold=NA sbom_warm=NA sbom_rss=NA
if "$W/bin/warden" sbom --help >/dev/null 2>&1 && "$W/bin/warden" sbom --cache-dir "$W/clicache" --format cyclonedx-json "oci-layout:$W/oci" >/dev/null 2>&1; then
  read -r sbom_cold sbom_rss < <(timed "$W/bin/warden" sbom --no-cache --format cyclonedx-json "oci-layout:$W/oci")
  read -r sbom_warm _ < <(timed "$W/bin/warden" sbom --cache-dir "$W/clicache" --format cyclonedx-json "oci-layout:$W/oci")
fi

trivy_cold=NA trivy_warm=NA trivy_rss=NA syft_t=NA syft_rss=NA
if command -v trivy >/dev/null; then
  read -r trivy_cold trivy_rss < <(timed trivy image --quiet --skip-db-update --skip-java-db-update --offline-scan --cache-dir "$W/trivy-none-$RANDOM" --format cyclonedx --input "$W/image.tar")
  trivy image --quiet --offline-scan --cache-dir "$W/trivy-cache" --format cyclonedx --input "$W/image.tar" >/dev/null 2>&1 || true
  read -r trivy_warm _ < <(timed trivy image --quiet --offline-scan --cache-dir "$W/trivy-cache" --format cyclonedx --input "$W/image.tar")
fi
if command -v syft >/dev/null; then
  read -r syft_t syft_rss < <(timed syft -q "docker-archive:$W/image.tar" -o cyclonedx-json)
fi

ratio() { if [ "$1" = NA ] || [ "$2" = NA ]; then echo NA; else awk "BEGIN{printf \"%.2f\", $1 / $2}"; fi; }
echo
echo "| measure | seconds | peak RSS MB | ratio |"
echo "|---|---|---|---|"
echo "| floor (inflate largest layer) | $floor | | 1.00 x floor |"
echo "| warden walk cold, oci-layout | $cold | $cold_rss | $(ratio "$cold" "$floor") x floor |"
echo "| warden walk cold, docker-archive | $cold_da | $cold_da_rss | $(ratio "$cold_da" "$floor") x floor |"
echo "| warden walk warm (cached) | $warm | $warm_rss | |"
echo "| warden sbom CLI cold / warm | $sbom_cold / $sbom_warm | $sbom_rss | $(ratio "$sbom_cold" "$floor") x floor |"
echo "| trivy cold / warm | $trivy_cold / $trivy_warm | $trivy_rss | trivy/warden cold: $(ratio "$trivy_cold" "$cold") |"
echo "| syft | $syft_t | $syft_rss | syft/warden cold: $(ratio "$syft_t" "$cold") |"
