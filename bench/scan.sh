#!/usr/bin/env bash
# Speed benchmark of `warden scan` (issue #4) side by side with Trivy and Grype, all three with the same advisory
# data and the same image files, in one run:
#   data    Warden: the whole corpus imported (`warden db import`). Trivy: its database built offline by trivy-db
#           from the same Alpine secdb and Go vulndb files (bench/cmd/peerdata lays them out as vuln-list). Grype:
#           its v6 database built by grype/db.Build from the same files laid out as vunnel flat-file results
#           (bench/cmd/peerdata -vunnel, bench/cmd/grypedb). The peers get only Alpine + Go data (what the images
#           need); Warden has the whole corpus, which only makes its lookups harder.
#   images  alpine   the Alpine 3.19.4 minirootfs (corpus) as a one-layer image
#           goapp    the corpus go-vulnapp, built here (CGO_ENABLED=0 -trimpath), in /usr/local/bin of a one-layer image
#           big      the 3-layer image of bench/foundation.sh ($BIG, default /tmp/warden-bench/image.tar), when present
#           each as one docker-archive that all three tools read.
#   times   cold: no layer cache (Warden --no-cache; Trivy a fresh in-memory cache); warm: layer cache filled by an
#           earlier run (Warden's cache dir, Trivy's fs cache). Grype has no layer cache: every run is a full one.
#           Best wall time of $RUNS runs, the user+system CPU time of that best run's tool, peak RSS (GNU time).
#   findings the vulnerability IDs (and packages) each tool reports, written to $W/findings/ and compared.
# The peers come from bench/peers.sh (into $PEERS, default /tmp/peers); missing peers are skipped (NA).
# Never run in CI.
#
# Usage: bench/scan.sh [workdir]   (default /tmp/warden-scanbench; databases and images are reused when present)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/warden-scanbench}
W=$(mkdir -p "$W" && cd "$W" && pwd)
RUNS=${RUNS:-3}
C=${WARDEN_CORPUS:-$(cd .. && pwd)/shared/corpus}
PEERS=${PEERS:-/tmp/peers}
BIG=${BIG:-/tmp/warden-bench/image.tar}
export PATH="$PEERS:$PATH:$(go env GOPATH)/bin"
mkdir -p "$W/bin" "$W/img" "$W/findings"
have() { [ -x "$PEERS/$1" ]; }

rev="$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes in the tree')"
echo "== building warden ($rev) and helpers; peers from $PEERS; $(uptime)"
tags=$(bash scripts/buildtags.sh)
echo "   warden build tags: ${tags:-(none)}; igzip: $(command -v igzip || echo none)"
# WARDEN_BIN times a given binary instead (e.g. dist/warden-linux-amd64 from scripts/release.sh).
if [ -n "${WARDEN_BIN:-}" ]; then cp "$WARDEN_BIN" "$W/bin/warden"; else go build -tags "$tags" -o "$W/bin/warden" ./cmd/warden; fi
go build -o "$W/bin/" ./bench/cmd/peerdata ./bench/cmd/mkimage

# --- databases ------------------------------------------------------------------------------------------------
S="$W/warden-state"
if [ ! -f "$S/db" ]; then
  echo "== warden: importing the whole corpus into $S"
  /usr/bin/time -f "warden db import: %e s wall, %U+%S s CPU, %M KB peak RSS" \
    "$W/bin/warden" --cache-dir "$S" db import "$C/feeds/alpine-secdb" "$C/feeds/go-vulndb-osv-all.zip" \
    "$C/feeds/pypi-osv-all.zip" "$C/feeds/almalinux-osv-all.zip" "$C/feeds/ghsa-osv" "$C/feeds/nvd-api2" \
    pkg/feeds/debian/testdata/bookworm-slice.json "$C/feeds/ubuntu-oval" "$C/feeds/rocky-oval" >/dev/null
fi
"$W/bin/warden" --cache-dir "$S" db status | sed 's/^/  /'

TDB="$W/trivy-db" # trivy --cache-dir: db/trivy.db + db/metadata.json
if have trivy-db && [ ! -f "$TDB/db/trivy.db" ]; then
  echo "== trivy: building its database from the same secdb + Go vulndb files (trivy-db build)"
  rm -rf "$W/peerdata/trivy" "$W/trivy-out"
  "$W/bin/peerdata" -alpine "$C/feeds/alpine-secdb" -govulndb "$C/feeds/go-vulndb-osv-all.zip" -trivy "$W/peerdata/trivy"
  /usr/bin/time -f "trivy-db build: %e s wall, %U+%S s CPU" \
    trivy-db build --cache-dir "$W/peerdata/trivy" --output-dir "$W/trivy-out" --only-update alpine --only-update govulndb 2>&1 | grep -v INFO || true
  mkdir -p "$TDB/db" && cp "$W/trivy-out/trivy.db" "$W/trivy-out/metadata.json" "$TDB/db/"
fi
GDB="$W/grype-db" # GRYPE_DB_CACHE_DIR: 6/vulnerability.db + 6/import.json
if have grypedb && [ ! -f "$GDB/6/vulnerability.db" ]; then
  echo "== grype: building its database from the same secdb + Go vulndb files (grype/db.Build over vunnel results)"
  rm -rf "$W/peerdata/vunnel"
  "$W/bin/peerdata" -alpine "$C/feeds/alpine-secdb" -govulndb "$C/feeds/go-vulndb-osv-all.zip" -vunnel "$W/peerdata/vunnel"
  /usr/bin/time -f "grype db build: %e s wall, %U+%S s CPU" grypedb -results "$W/peerdata/vunnel" -out "$GDB/6" 2>&1 | tail -3
fi
export GRYPE_DB_CACHE_DIR="$GDB" GRYPE_DB_AUTO_UPDATE=false GRYPE_DB_VALIDATE_AGE=false GRYPE_DB_REQUIRE_UPDATE_CHECK=false \
  GRYPE_CHECK_FOR_APP_UPDATE=false
ls -l "$S/db" "$TDB/db/trivy.db" "$GDB/6/vulnerability.db" 2>/dev/null | awk '{printf "  db size %s MB %s\n", int($5/1048576), $NF}' || true

# --- images ---------------------------------------------------------------------------------------------------
if [ ! -f "$W/img/alpine.tar" ]; then
  "$W/bin/mkimage" -tag alpine:3.19.4 -docker-archive "$W/img/alpine.tar" "$C/images/alpine-minirootfs-3.19.4-x86_64.tar.gz"
fi
if [ ! -f "$W/img/goapp.tar" ]; then
  echo "== building go-vulnapp in a copy of the corpus program"
  rm -rf "$W/goapp" && mkdir -p "$W/goapp/root/usr/local/bin" && cp -r "$C/lang/go-vulnapp" "$W/goapp/src" && chmod -R u+w "$W/goapp/src"
  (cd "$W/goapp/src" && CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o "$W/goapp/root/usr/local/bin/vulnapp" .)
  tar -C "$W/goapp/root" -czf "$W/goapp/layer.tar.gz" usr
  "$W/bin/mkimage" -tag go-vulnapp:bench -docker-archive "$W/img/goapp.tar" "$W/goapp/layer.tar.gz"
fi
images=(alpine goapp)
if [ -f "$BIG" ]; then ln -sf "$BIG" "$W/img/big.tar"; images+=(big); fi

# --- timing ---------------------------------------------------------------------------------------------------
# timed CMD...: runs CMD $RUNS times; prints "best_wall_s cpu_s_of_best max_rss_MB" or "NA NA NA" when it fails.
timed() {
  local best="" cpu="" rss=0 t m c s e
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    if ! /usr/bin/time -f "%M %U %S" -o "$W/time.log" "$@" >/dev/null 2>"$W/err.log"; then
      echo "failed: $*" >&2; tail -5 "$W/err.log" >&2; echo "NA NA NA"; return
    fi
    e=$(date +%s.%N)
    t=$(awk "BEGIN{printf \"%.3f\", $e - $s}")
    read -r m c < <(tail -1 "$W/time.log" | awk '{printf "%d %.2f", $1, $2 + $3}')
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; cpu=$c; fi
    if [ "$m" -gt "$rss" ]; then rss=$m; fi
  done
  echo "$best $cpu $((rss / 1024))"
}
ratio() { if [ "$1" = NA ] || [ "$2" = NA ]; then echo NA; else awk "BEGIN{printf \"%.1f\", $1 / $2}"; fi; }

warden() { "$W/bin/warden" --cache-dir "$S" scan --format json "$@"; }
TC="$W/trivy-cache"
trivy_scan() { trivy image --quiet --skip-db-update --skip-java-db-update --skip-version-check --disable-telemetry \
  --offline-scan --scanners vuln --format json "$@"; }
grype_scan() { grype -q -o json "$@"; }

declare -A R
rm -rf "$TC"
for img in "${images[@]}"; do
  tar="$W/img/$img.tar"
  echo "== $img ($(du -Lh "$tar" | cut -f1)), $RUNS runs each"
  # warden: cold (no layer cache) and warm (layer cache filled by the first run)
  warden "docker-archive:$tar" >"$W/findings/warden-$img.json" 2>"$W/findings/warden-$img.err" || true
  R[$img,wc]=$(timed "$W/bin/warden" --cache-dir "$S" scan --format json --no-cache "docker-archive:$tar")
  R[$img,ww]=$(timed "$W/bin/warden" --cache-dir "$S" scan --format json "docker-archive:$tar")
  # cold again with ISA-L's igzip process instead of the built-in library (a build without libisal-dev), and as a
  # pure Go build on a machine without ISA-L at all would run it
  R[$img,wp]="NA NA NA"
  if command -v igzip >/dev/null; then
    R[$img,wp]=$(timed env WARDEN_IGZIP="$(command -v igzip)" "$W/bin/warden" --cache-dir "$S" scan --format json --no-cache "docker-archive:$tar")
  fi
  R[$img,wg]=$(timed env WARDEN_IGZIP=off "$W/bin/warden" --cache-dir "$S" scan --format json --no-cache "docker-archive:$tar")
  R[$img,tc]="NA NA NA" R[$img,tw]="NA NA NA" R[$img,g]="NA NA NA"
  if have trivy && [ -f "$TDB/db/trivy.db" ]; then
    # cold: the database from $TDB and a fresh in-memory layer cache each run; warm: a filesystem cache filled by
    # the run before (a copy of $TDB with Trivy's layer cache beside it, $TC; removed at the start of the script).
    R[$img,tc]=$(timed trivy image --quiet --skip-db-update --skip-java-db-update --skip-version-check --disable-telemetry \
      --offline-scan --scanners vuln --format json --cache-dir "$TDB" --cache-backend memory --input "$tar")
    [ -f "$TC/db/trivy.db" ] || { rm -rf "$TC" && mkdir -p "$TC" && cp -r "$TDB/db" "$TC/"; }
    trivy_scan --cache-dir "$TC" --input "$tar" >"$W/findings/trivy-$img.json" 2>"$W/findings/trivy-$img.err" || true
    R[$img,tw]=$(timed trivy image --quiet --skip-db-update --skip-java-db-update --skip-version-check --disable-telemetry \
      --offline-scan --scanners vuln --format json --cache-dir "$TC" --input "$tar")
  fi
  if have grype && [ -f "$GDB/6/vulnerability.db" ]; then
    grype_scan "docker-archive:$tar" >"$W/findings/grype-$img.json" 2>"$W/findings/grype-$img.err" || true
    R[$img,g]=$(timed grype -q -o json "docker-archive:$tar")
  fi
done

# --- findings: "ID package" per tool --------------------------------------------------------------------------
# Trivy names a finding by its CVE alias when there is one; its Go vulndb ID (VendorIDs) is used instead so that the
# three tools compare by the same IDs. Warden's JSON has every module-level match, with "linked": false when the
# vulnerable symbols are not in the binary (its table hides those unless --show-unlinked).
ids() { # tool file
  case $1 in
    warden) jq -r '.vulnerabilities[]? | "\(.id) \(.package.name)"' "$2" ;;
    warden-linked) jq -r '.vulnerabilities[]? | select(.linked != false) | "\(.id) \(.package.name)"' "$2" ;;
    trivy) jq -r '.Results[]?.Vulnerabilities[]? | "\((((.VendorIDs // []) | map(select(startswith("GO-"))) | first) // .VulnerabilityID)) \(.PkgName)"' "$2" ;;
    grype) jq -r '.matches[]? | "\(.vulnerability.id) \(.artifact.name)"' "$2" ;;
  esac | sort -u
}

echo
echo "warden $rev; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (the machine is shared: CPU time is the steadier measure)"
echo
echo "| image | tool | cold wall s | cold CPU s | warm wall s | warm CPU s | peak RSS MB | findings (ID+package pairs) | tool/warden cold wall | cold CPU | warm wall |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for img in "${images[@]}"; do
  read -r wcw wcc wcr <<<"${R[$img,wc]}"; read -r www wwc wwr <<<"${R[$img,ww]}"
  n() { local f="$W/findings/$1-$img.json"; if [ -s "$f" ]; then ids "$1" "$f" | wc -l; else echo NA; fi; }
  rss=$wcr; [ "$wwr" != NA ] && [ "$wwr" -gt "$rss" ] && rss=$wwr
  echo "| $img | warden | $wcw | $wcc | $www | $wwc | $rss | $(n warden) | 1 | 1 | 1 |"
  read -r wpw wpc wpr <<<"${R[$img,wp]}"
  echo "| $img | warden, igzip process (WARDEN_IGZIP=PATH) | $wpw | $wpc | | | $wpr | | $(ratio "$wpw" "$wcw") | $(ratio "$wpc" "$wcc") | |"
  read -r wgw wgc wgr <<<"${R[$img,wg]}"
  echo "| $img | warden, WARDEN_IGZIP=off | $wgw | $wgc | | | $wgr | | $(ratio "$wgw" "$wcw") | $(ratio "$wgc" "$wcc") | |"
  read -r tcw tcc tcr <<<"${R[$img,tc]}"; read -r tww twc twr <<<"${R[$img,tw]}"
  rss=$tcr; [ "$twr" != NA ] && [ "$tcr" != NA ] && [ "$twr" -gt "$rss" ] && rss=$twr
  echo "| $img | trivy | $tcw | $tcc | $tww | $twc | $rss | $(n trivy) | $(ratio "$tcw" "$wcw") | $(ratio "$tcc" "$wcc") | $(ratio "$tww" "$www") |"
  read -r gw gc gr <<<"${R[$img,g]}"
  echo "| $img | grype | $gw | $gc | (no cache) | | $gr | $(n grype) | $(ratio "$gw" "$wcw") | $(ratio "$gc" "$wcc") | $(ratio "$gw" "$www") |"
done

echo
E="$C/expected/findings.json"
for img in "${images[@]}"; do
  for t in warden trivy grype; do
    f="$W/findings/$t-$img.json"; [ -s "$f" ] || continue
    ids "$t" "$f" >"$W/findings/$t-$img.ids"
  done
  ids warden-linked "$W/findings/warden-$img.json" >"$W/findings/warden-linked-$img.ids"
  echo "== findings on $img (ID package; lists in $W/findings/*-$img.ids)"
  for t in warden trivy grype; do
    [ -f "$W/findings/$t-$img.ids" ] || continue
    line="  $t: $(wc -l <"$W/findings/$t-$img.ids") findings"
    [ "$t" = warden ] && line+=" ($(wc -l <"$W/findings/warden-linked-$img.ids") with the vulnerable code linked)"
    if [ "$img" = goapp ] && [ -f "$E" ]; then
      miss=$(jq -r '."go-vulnapp".must_module_level[].id' "$E" | while read -r id; do grep -q "^$id " "$W/findings/$t-$img.ids" || printf '%s ' "$id"; done)
      line+="; expected (corpus expected/findings.json, 8 module-level) missing: ${miss:-none}"
    fi
    if [ "$img" = alpine ]; then
      line+="; expected is exactly CVE-2024-9143 on libcrypto3 + libssl3: $( [ "$(tr '\n' ';' <"$W/findings/$t-$img.ids")" = "CVE-2024-9143 libcrypto3;CVE-2024-9143 libssl3;" ] && echo yes || echo NO)"
    fi
    echo "$line"
  done
  for t in trivy grype; do
    [ -f "$W/findings/$t-$img.ids" ] || continue
    echo "  only $t: $(comm -13 "$W/findings/warden-$img.ids" "$W/findings/$t-$img.ids" | tr '\n' ';')"
    echo "  only warden (vs $t): $(comm -23 "$W/findings/warden-$img.ids" "$W/findings/$t-$img.ids" | tr '\n' ';')"
  done
done

# --- hyperfine on the small images (mean ± σ over more runs; the machine is shared, so look at σ) ----------------
if command -v hyperfine >/dev/null && [ "${HYPERFINE:-1}" = 1 ]; then
  for img in alpine goapp; do
    tar="$W/img/$img.tar"
    cmds=("$W/bin/warden --cache-dir $S scan --format json --no-cache docker-archive:$tar"
          "$W/bin/warden --cache-dir $S scan --format json docker-archive:$tar")
    names=(-n "warden cold" -n "warden warm")
    if have trivy && [ -f "$TDB/db/trivy.db" ]; then
      cmds+=("trivy image --quiet --skip-db-update --skip-java-db-update --skip-version-check --disable-telemetry --offline-scan --scanners vuln --format json --cache-dir $TDB --cache-backend memory --input $tar"
             "trivy image --quiet --skip-db-update --skip-java-db-update --skip-version-check --disable-telemetry --offline-scan --scanners vuln --format json --cache-dir $TC --input $tar")
      names+=(-n "trivy cold" -n "trivy warm")
    fi
    if have grype && [ -f "$GDB/6/vulnerability.db" ]; then
      cmds+=("grype -q -o json docker-archive:$tar"); names+=(-n "grype")
    fi
    echo
    echo "== hyperfine, $img"
    hyperfine -N --style basic --warmup 1 --runs "${HRUNS:-10}" "${names[@]}" --export-markdown "$W/hyperfine-$img.md" "${cmds[@]}" >/dev/null 2>&1 || echo "hyperfine failed on $img"
    cat "$W/hyperfine-$img.md" 2>/dev/null
  done
fi
