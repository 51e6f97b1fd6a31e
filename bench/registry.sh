#!/usr/bin/env bash
# Push/pull throughput of `warden serve` against CNCF Distribution (registry v3.1.2, built here from the Go
# module proxy), with crane as the client, and the floor: sha256 plus a disk write of the same bytes.
#
#   bash bench/registry.sh [SIZE_MB]      (default 500; RUNS=3 repetitions, best kept)
#
# The image is SIZE_MB of incompressible data in 5 uncompressed tar layers, laid out as an OCI layout, so
# neither side spends time compressing. Both registries run on 127.0.0.1 with filesystem storage in the
# same temporary directory. warden serve runs with --no-scan (scanning is a background job, measured
# separately by the scan benchmarks). Everything it starts it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-500}
RUNS=${RUNS:-3}
LAYERS=5
export PATH="$(go env GOPATH)/bin:$PATH"
command -v crane >/dev/null || bash .ci/tools.sh

work=$(mktemp -d /tmp/warden-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench: building warden and registry v3.1.2" >&2
go build -o "$work/warden" ./cmd/warden
GOBIN="$work/bin" GOFLAGS=-mod=mod go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2

# --- the image: an OCI layout with LAYERS uncompressed random layers ---
layout="$work/layout"
mkdir -p "$layout/blobs/sha256" "$work/raw"
per=$((SIZE_MB / LAYERS))
diffids=() descs=()
for i in $(seq 1 $LAYERS); do
  mkdir -p "$work/raw/l$i"
  head -c "${per}M" /dev/urandom > "$work/raw/l$i/data$i.bin"
  tar -C "$work/raw/l$i" -cf "$work/layer$i.tar" "data$i.bin"
  rm -rf "$work/raw/l$i"
  d=$(sha256sum "$work/layer$i.tar" | cut -d' ' -f1)
  sz=$(stat -c %s "$work/layer$i.tar")
  mv "$work/layer$i.tar" "$layout/blobs/sha256/$d"
  diffids+=("\"sha256:$d\"")
  descs+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$sz}")
done
join() { local IFS=,; echo "$*"; }
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$(join "${diffids[@]}")" > "$work/config.json"
cd_=$(sha256sum "$work/config.json" | cut -d' ' -f1); csz=$(stat -c %s "$work/config.json")
mv "$work/config.json" "$layout/blobs/sha256/$cd_"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$cd_" "$csz" "$(join "${descs[@]}")" > "$work/manifest.json"
md=$(sha256sum "$work/manifest.json" | cut -d' ' -f1); msz=$(stat -c %s "$work/manifest.json")
mv "$work/manifest.json" "$layout/blobs/sha256/$md"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s}]}' "$md" "$msz" > "$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
total=$(du -sb "$layout/blobs" | cut -f1)
mb=$(awk -v b="$total" 'BEGIN{printf "%.1f", b/1048576}')
echo "bench: image of $mb MiB in $LAYERS layers" >&2

now() { date +%s.%N; }
best() { sort -g | head -1; }

# --- servers ---
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_up() { for _ in $(seq 100); do curl -sf -o /dev/null "http://$1/v2/" && return 0; sleep 0.1; done; echo "bench: $1 did not come up" >&2; exit 1; }

start_warden() {
  WPORT=$(port); rm -rf "$work/wroot"
  "$work/warden" serve --addr "127.0.0.1:$WPORT" --root "$work/wroot" --no-scan --cache-dir "$work/wcache" 2>"$work/warden.log" &
  pids+=($!); WPID=$!; wait_up "127.0.0.1:$WPORT"
}
start_dist() {
  DPORT=$(port); rm -rf "$work/droot"
  cat > "$work/dist.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/droot}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$DPORT}
EOF
  OTEL_TRACES_EXPORTER=none "$work/bin/registry" serve "$work/dist.yml" 2>"$work/dist.log" &
  pids+=($!); DPID=$!; wait_up "127.0.0.1:$DPORT"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# push: a fresh registry each run; pull: into a fresh OCI layout directory.
measure() { # name host-port-var start stop
  local name=$1 push=() pull=()
  for r in $(seq 1 "$RUNS"); do
    "start_$name"
    local hp; if [ "$name" = warden ]; then hp="127.0.0.1:$WPORT"; else hp="127.0.0.1:$DPORT"; fi
    sync
    local t0; t0=$(now)
    crane push --insecure "$layout" "$hp/bench/img:1" >/dev/null 2>>"$work/crane.log"
    push+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
    rm -rf "$work/pulled"; sync
    t0=$(now)
    crane pull --insecure --format oci "$hp/bench/img:1" "$work/pulled" 2>>"$work/crane.log"
    pull+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
    if [ "$name" = warden ]; then stop "$WPID"; else stop "$DPID"; fi
  done
  eval "${name}_push=$(printf '%s\n' "${push[@]}" | best)"
  eval "${name}_pull=$(printf '%s\n' "${pull[@]}" | best)"
}

measure warden
measure dist

# --- the floor: sha256 of every byte plus writing it to disk once, with fsync (what warden does per
# blob), in Go with a 1 MiB buffer, files in parallel: what any registry must at least do with the bytes ---
mkdir -p "$work/floorgo"
cat > "$work/floorgo/main.go" <<'GO'
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

func main() {
	src, dst := os.Args[1], os.Args[2]
	ents, err := os.ReadDir(src)
	if err != nil {
		panic(err)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, e := range ents { // in parallel, as crane pushes layers in parallel
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			in, err := os.Open(filepath.Join(src, name))
			if err != nil {
				panic(err)
			}
			out, err := os.Create(filepath.Join(dst, name))
			if err != nil {
				panic(err)
			}
			h := sha256.New()
			if _, err := io.CopyBuffer(io.MultiWriter(out, h), in, buf); err != nil {
				panic(err)
			}
			_ = h.Sum(nil)
			if err := out.Sync(); err != nil {
				panic(err)
			}
			in.Close()
			out.Close()
		}(e.Name())
	}
	wg.Wait()
	fmt.Println(time.Since(t0).Seconds())
}
GO
printf 'module floor\n\ngo 1.22\n' > "$work/floorgo/go.mod"
(cd "$work/floorgo" && go build -o "$work/floor-bin" .)
floor=()
for r in $(seq 1 "$RUNS"); do
  rm -rf "$work/floor"; mkdir -p "$work/floor"; sync
  floor+=("$("$work/floor-bin" "$layout/blobs/sha256" "$work/floor")")
done
floor_t=$(printf '%s\n' "${floor[@]}" | best)

rate() { awk -v m="$mb" -v t="$1" 'BEGIN{printf "%7.1f MiB/s (%6.2f s)", m/t, t}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
echo
echo "Registry throughput, $mb MiB image, crane v0.22.1 client, best of $RUNS (nproc=$(nproc))"
printf '  %-26s push %s   pull %s\n' "warden serve" "$(rate "$warden_push")" "$(rate "$warden_pull")"
printf '  %-26s push %s   pull %s\n' "distribution v3.1.2" "$(rate "$dist_push")" "$(rate "$dist_pull")"
printf '  %-26s      %s\n' "floor (sha256+write+fsync)" "$(rate "$floor_t")"
echo "  warden push time / distribution push time: $(ratio "$warden_push" "$dist_push")   (<= 1.00x: at least as fast)"
echo "  warden pull time / distribution pull time: $(ratio "$warden_pull" "$dist_pull")"
echo "  warden push time / floor:                  $(ratio "$warden_push" "$floor_t")   (goal: <= 1.50x)"
