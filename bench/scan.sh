#!/usr/bin/env bash
# Speed benchmark of `warden scan` (issue #4): full scan time cold (no layer cache) and warm (cached), and peak
# RSS, with the whole corpus imported (Alpine secdb, Go vulndb, PyPI, AlmaLinux, GHSA slice, NVD slice, Debian
# tracker slice, Ubuntu and Rocky OVAL), on:
#   - the Alpine 3.19.4 and Debian bookworm images in testdata/images,
#   - the large image of bench/foundation.sh when it has been built ($W/image.tar, $W/oci),
#   - the corpus go-vulnapp (built here) and npm tree, each as a one-layer image.
# When trivy and/or grype are on PATH *and* their databases have been built offline from the same feed files
# (TRIVY_CACHE / GRYPE_DB_CACHE_DIR pointing at them: see the issue for their builders), the same images go through
# them in the same run. They are never installed here; never run in CI.
#
# Usage: bench/scan.sh [workdir]   (default /tmp/warden-bench; the database and images are reused)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-${BENCH_DIR:-/tmp/warden-bench}}
RUNS=${RUNS:-3}
C=${WARDEN_CORPUS:-$(cd .. && pwd)/shared/corpus}
mkdir -p "$W/bin"
export PATH="$PATH:$(go env GOPATH)/bin"

echo "== building warden"
go build -o "$W/bin/warden" ./cmd/warden
S="$W/scan-state"
if [ ! -f "$S/db" ]; then
  echo "== importing the whole corpus into $S (once)"
  "$W/bin/warden" --cache-dir "$S" db import "$C/feeds/alpine-secdb" "$C/feeds/go-vulndb-osv-all.zip" \
    "$C/feeds/pypi-osv-all.zip" "$C/feeds/almalinux-osv-all.zip" "$C/feeds/ghsa-osv" "$C/feeds/nvd-api2" \
    pkg/feeds/debian/testdata/bookworm-slice.json "$C/feeds/ubuntu-oval" "$C/feeds/rocky-oval" >/dev/null
fi
"$W/bin/warden" --cache-dir "$S" db status

if [ ! -d "$W/goapp/root" ]; then
  echo "== building go-vulnapp and the npm tree as directories"
  mkdir -p "$W/goapp/root/usr/local/bin" "$W/npm/root"
  (cd "$C/lang/go-vulnapp" && CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o "$W/goapp/root/usr/local/bin/vulnapp" .)
  tar -xzf "$C/lang/npm-lodash-minimist.tar.gz" -C "$W/npm/root"
fi

images=("oci-layout:testdata/images/alpine-3.19.4" "oci-layout:testdata/images/debian-bookworm-pkgdb" "dir:$W/goapp/root" "dir:$W/npm/root")
[ -d "$W/oci" ] && images+=("oci-layout:$W/oci")

# timed CMD...: best wall time of RUNS runs and peak RSS (MB).
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
ratio() { if [ "$1" = NA ] || [ "$2" = NA ]; then echo NA; else awk "BEGIN{printf \"%.2f\", $1 / $2}"; fi; }

echo
echo "| image | findings | warden cold s | warden warm s | RSS MB | trivy s | grype s | trivy/warden | grype/warden |"
echo "|---|---|---|---|---|---|---|---|---|"
for img in "${images[@]}"; do
  n=$("$W/bin/warden" --cache-dir "$S" scan --format json "$img" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["vulnerabilities"]))' || echo NA)
  read -r cold rss < <(timed "$W/bin/warden" --cache-dir "$S" scan --no-cache --format json "$img")
  "$W/bin/warden" --cache-dir "$S" scan --format json "$img" >/dev/null 2>&1 || true
  read -r warm _ < <(timed "$W/bin/warden" --cache-dir "$S" scan --format json "$img")
  trivy_t=NA grype_t=NA
  case "$img" in
    oci-layout:*) path=${img#oci-layout:}; kind=oci ;;
    dir:*) path=${img#dir:}; kind=dir ;;
  esac
  if command -v trivy >/dev/null && [ -n "${TRIVY_CACHE:-}" ]; then
    if [ "$kind" = oci ]; then
      read -r trivy_t _ < <(timed trivy image --quiet --skip-db-update --offline-scan --cache-dir "$TRIVY_CACHE" --format json --input "$path")
    else
      read -r trivy_t _ < <(timed trivy rootfs --quiet --skip-db-update --offline-scan --cache-dir "$TRIVY_CACHE" --format json "$path")
    fi
  fi
  if command -v grype >/dev/null && [ -n "${GRYPE_DB_CACHE_DIR:-}" ]; then
    if [ "$kind" = oci ]; then src="oci-dir:$path"; else src="dir:$path"; fi
    read -r grype_t _ < <(GRYPE_DB_AUTO_UPDATE=false GRYPE_CHECK_FOR_APP_UPDATE=false timed grype -q -o json "$src")
  fi
  echo "| $img | $n | $cold | $warm | $rss | $trivy_t | $grype_t | $(ratio "$trivy_t" "$cold") | $(ratio "$grype_t" "$cold") |"
done
