#!/usr/bin/env bash
# Speed benchmark of the scanner foundation (issue #2). Builds a large
# multi-layer image from what this machine has (no Debian mirror here):
#   layer 1  a Debian "base": the machine's /usr/bin, its real dpkg database
#            (/var/lib/dpkg: status + info/*.list) and os-release
#   layer 2  a Go toolchain: /usr/local/go
#   layer 3  an application: the warden binary and its config
# saves it as an OCI layout and a docker-archive, then measures in one run:
#   floor   inflating the largest layer with klauspost/compress, and with
#           pkg/inflate/fast (the pure-Go floor) and igzip
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
tags=$(bash scripts/buildtags.sh)
echo "   build tags: ${tags:-(none)}; igzip: $(command -v igzip || echo none)"
go build -tags "$tags" -o "$W/bin/" ./bench/cmd/walkbench ./bench/cmd/inflate ./bench/cmd/mkimage
# WARDEN_BIN times a given binary instead (e.g. dist/warden-linux-amd64 from scripts/release.sh).
if [ -n "${WARDEN_BIN:-}" ]; then cp "$WARDEN_BIN" "$W/bin/warden"; else go build -tags "$tags" -o "$W/bin/warden" ./cmd/warden; fi

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

# timed CMD...: runs CMD RUNS times; prints "best_wall_seconds max_rss_mb best_cpu_seconds" (wall time of
# the whole process, start to exit; RSS and user+system CPU from GNU time). CPU time is the steadier measure
# when the machine is shared.
timed() {
  local best="" rss=0 cpu="" t m c s e
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    if ! /usr/bin/time -f "%M %U %S" -o "$W/time.log" "$@" >/dev/null 2>"$W/err.log"; then
      echo "failed: $*" >&2; tail -5 "$W/err.log" >&2; echo "NA NA NA"; return
    fi
    e=$(date +%s.%N)
    t=$(awk "BEGIN{printf \"%.3f\", $e - $s}")
    m=$(tail -1 "$W/time.log" | awk '{print $1}')
    c=$(tail -1 "$W/time.log" | awk '{printf "%.2f", $2 + $3}')
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    if [ -z "$cpu" ] || awk "BEGIN{exit !($c < $cpu)}"; then cpu=$c; fi
    if [ "$m" -gt "$rss" ]; then rss=$m; fi
  done
  echo "$best $((rss / 1024)) $cpu"
}

echo "== floor: inflate the largest layer (klauspost/compress, best of $RUNS)"
read -r floor _ floor_cpu < <(timed "$W/bin/inflate" -n 1 "$largest")
all_cpu=0
for l in "$W"/l1.tar.gz "$W"/l2.tar.gz "$W"/l3.tar.gz; do
  read -r _ _ c < <(timed "$W/bin/inflate" -n 1 "$l")
  all_cpu=$(awk "BEGIN{print $all_cpu + $c}")
done
echo "floor $floor s wall ($floor_cpu s CPU); inflating all layers: $all_cpu s CPU"
# pkg/inflate/fast, Warden's own pure-Go inflater (WARDEN_IGZIP=off, or no ISA-L): the pure-Go floor.
read -r gfloor _ gfloor_cpu < <(timed "$W/bin/inflate" -fast -n 1 "$largest")
echo "pure-Go floor (pkg/inflate/fast) $gfloor s wall ($gfloor_cpu s CPU)"
# ISA-L's igzip, which Warden uses when it is installed (WARDEN_IGZIP): the floor Warden actually has.
ifloor=NA ifloor_cpu=NA
if command -v igzip >/dev/null; then
  read -r ifloor _ ifloor_cpu < <(timed sh -c 'igzip -dc < "$1" > /dev/null' sh "$largest")
  echo "igzip floor $ifloor s wall ($ifloor_cpu s CPU)"
fi

echo "== warden walk (all extractors), $RUNS runs each, best time, peak RSS"
"$W/bin/walkbench" -oci "$W/oci" >/dev/null # page cache
read -r cold cold_rss cold_cpu < <(timed "$W/bin/walkbench" -oci "$W/oci")
rm -rf "$W/cache"; "$W/bin/walkbench" -oci "$W/oci" -cache "$W/cache" >/dev/null
read -r warm warm_rss _ < <(timed "$W/bin/walkbench" -oci "$W/oci" -cache "$W/cache")
read -r cold_da cold_da_rss cold_da_cpu < <(timed "$W/bin/walkbench" -docker-archive "$W/image.tar")
pk=$("$W/bin/walkbench" -oci "$W/oci" | awk '{print $2}')
echo "packages found: $pk"

# The CLI, when its sbom command is in place.
sbom_cold=NA sbom_warm=NA sbom_rss=NA sbom_da=NA sbom_da_rss=NA sbom_da_cpu=NA sbom_da_warm=NA sbom_go=NA sbom_go_rss=NA sbom_go_cpu=NA sbom_proc=NA sbom_proc_rss=NA sbom_proc_cpu=NA
if "$W/bin/warden" sbom --help >/dev/null 2>&1 && "$W/bin/warden" sbom --cache-dir "$W/clicache" --format cyclonedx-json "oci-layout:$W/oci" >/dev/null 2>&1; then
  read -r sbom_cold sbom_rss _ < <(timed "$W/bin/warden" sbom --no-cache --format cyclonedx-json "oci-layout:$W/oci")
  read -r sbom_warm _ _ < <(timed "$W/bin/warden" sbom --cache-dir "$W/clicache" --format cyclonedx-json "oci-layout:$W/oci")
  # The same docker-archive trivy reads, through Warden's own source (walkbench reads it with go-containerregistry's tarball).
  read -r sbom_da sbom_da_rss sbom_da_cpu < <(timed "$W/bin/warden" sbom --no-cache --format cyclonedx-json "docker-archive:$W/image.tar")
  read -r sbom_da_warm _ _ < <(timed "$W/bin/warden" sbom --cache-dir "$W/clicache" --format cyclonedx-json "docker-archive:$W/image.tar")
  # The same without igzip: a pure Go build on a machine without ISA-L.
  read -r sbom_go sbom_go_rss sbom_go_cpu < <(timed env WARDEN_IGZIP=off "$W/bin/warden" sbom --no-cache --format cyclonedx-json "docker-archive:$W/image.tar")
  # ISA-L's igzip process rather than the built-in library (a build without libisal-dev).
  if command -v igzip >/dev/null; then
    read -r sbom_proc sbom_proc_rss sbom_proc_cpu < <(timed env WARDEN_IGZIP="$(command -v igzip)" "$W/bin/warden" sbom --no-cache --format cyclonedx-json "docker-archive:$W/image.tar")
  fi
fi

trivy_cold=NA trivy_warm=NA trivy_rss=NA trivy_cpu=NA syft_t=NA syft_rss=NA syft_cpu=NA
if command -v trivy >/dev/null; then
  # cold: an in-memory cache, new each run; warm: a filesystem cache filled once.
  topt=(image --quiet --skip-db-update --skip-java-db-update --offline-scan --format cyclonedx --input "$W/image.tar")
  read -r trivy_cold trivy_rss trivy_cpu < <(timed trivy "${topt[@]}" --cache-backend memory)
  rm -rf "$W/trivy-cache"; trivy "${topt[@]}" --cache-dir "$W/trivy-cache" >/dev/null 2>&1 || true
  read -r trivy_warm _ _ < <(timed trivy "${topt[@]}" --cache-dir "$W/trivy-cache")
fi
if command -v syft >/dev/null; then
  read -r syft_t syft_rss syft_cpu < <(timed syft -q "docker-archive:$W/image.tar" -o cyclonedx-json)
fi

ratio() { if [ "$1" = NA ] || [ "$2" = NA ]; then echo NA; else awk "BEGIN{printf \"%.2f\", $1 / $2}"; fi; }
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "| measure | wall s | CPU s | peak RSS MB | ratio |"
echo "|---|---|---|---|---|"
echo "| floor (inflate largest layer, klauspost/compress) | $floor | $floor_cpu | | 1.00 x floor |"
echo "| pure-Go floor (inflate largest layer, pkg/inflate/fast) | $gfloor | $gfloor_cpu | | $(ratio "$gfloor" "$floor") x floor |"
echo "| inflate all layers (CPU) | | $all_cpu | | |"
echo "| igzip floor (inflate largest layer with ISA-L) | $ifloor | $ifloor_cpu | | $(ratio "$ifloor" "$floor") x floor |"
echo "| warden walk cold, oci-layout | $cold | $cold_cpu | $cold_rss | $(ratio "$cold" "$floor") x floor wall; CPU $(ratio "$cold_cpu" "$all_cpu") x inflating all layers |"
echo "| warden walk cold, docker-archive | $cold_da | $cold_da_cpu | $cold_da_rss | $(ratio "$cold_da" "$floor") x floor |"
echo "| warden walk warm (cached) | $warm | | $warm_rss | |"
echo "| warden sbom CLI cold / warm | $sbom_cold / $sbom_warm | | $sbom_rss | $(ratio "$sbom_cold" "$floor") x floor |"
echo "| warden sbom CLI cold / warm, docker-archive | $sbom_da / $sbom_da_warm | $sbom_da_cpu | $sbom_da_rss | $(ratio "$sbom_da" "$floor") x floor; trivy/warden sbom (same docker-archive) wall: $(ratio "$trivy_cold" "$sbom_da"), CPU: $(ratio "$trivy_cpu" "$sbom_da_cpu"); warm: $(ratio "$trivy_warm" "$sbom_da_warm") |"
echo "| warden sbom CLI cold, docker-archive, igzip process (WARDEN_IGZIP=PATH) | $sbom_proc | $sbom_proc_cpu | $sbom_proc_rss | $(ratio "$sbom_proc" "$floor") x floor; trivy/warden wall: $(ratio "$trivy_cold" "$sbom_proc"), CPU: $(ratio "$trivy_cpu" "$sbom_proc_cpu") |"
echo "| warden sbom CLI cold, docker-archive, WARDEN_IGZIP=off | $sbom_go | $sbom_go_cpu | $sbom_go_rss | $(ratio "$sbom_go" "$floor") x floor; trivy/warden wall: $(ratio "$trivy_cold" "$sbom_go"), CPU: $(ratio "$trivy_cpu" "$sbom_go_cpu") |"
echo "| trivy cold / warm | $trivy_cold / $trivy_warm | $trivy_cpu | $trivy_rss | trivy/warden cold (same docker-archive) wall: $(ratio "$trivy_cold" "$cold_da"), CPU: $(ratio "$trivy_cpu" "$cold_da_cpu"); warm: $(ratio "$trivy_warm" "$warm") |"
echo "| syft | $syft_t | $syft_cpu | $syft_rss | syft/warden cold (same docker-archive) wall: $(ratio "$syft_t" "$cold_da"), CPU: $(ratio "$syft_cpu" "$cold_da_cpu") |"
