#!/usr/bin/env bash
# Issue #15: the vulnerability database as a signed OCI artifact. Imports the whole corpus (as scan.sh does), pushes
# it to a `warden serve` on loopback with `warden db push`, then times `warden db pull` into an empty state directory
# (cold) and again (unchanged: one manifest HEAD), RUNS times each (median printed), and compares the artifact's size
# with the compressed feeds it came from. Usage: bench/dbdist.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/wb/dbdist}
runs=${RUNS:-5}
corpus=${WARDEN_CORPUS:-$(pwd)/../shared/corpus}
mkdir -p "$work"
bin=$work/warden
go build -tags "$(bash scripts/buildtags.sh)" -o "$bin" ./cmd/warden

state=$work/state
if [ ! -s "$state/db" ]; then
  "$bin" --cache-dir "$state" db import "$corpus/feeds" >/dev/null 2>&1
fi
export WARDEN_PASSWORD=bench
rm -f "$work/k.key" "$work/k.pub"
"$bin" keygen --output-key-prefix "$work/k" >/dev/null 2>&1

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$work/reg"
"$bin" serve --addr 127.0.0.1:"$port" --root "$work/reg" --no-scan --cache-dir "$work/serve-state" >"$work/serve.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
ref=127.0.0.1:$port/warden/db:2

ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

t0=$(date +%s%N)
"$bin" --cache-dir "$state" db push "$ref" --key "$work/k.key" | tee "$work/push.txt"
t1=$(date +%s%N)
echo "push: $(ms "$t0" "$t1") ms"

cold=() warm=() start=()
for i in $(seq "$runs"); do
  t0=$(date +%s%N); "$bin" version >/dev/null; t1=$(date +%s%N)
  start+=("$(ms "$t0" "$t1")")
  d=$work/pull-$i
  rm -rf "$d"
  t0=$(date +%s%N)
  "$bin" db pull "$ref" --key "$work/k.pub" --cache-dir "$d" >/dev/null
  t1=$(date +%s%N)
  "$bin" db pull "$ref" --key "$work/k.pub" --cache-dir "$d" >/dev/null
  t2=$(date +%s%N)
  cmp -s "$state/db" "$d/db" || { echo "pull $i: the database differs" >&2; exit 1; }
  cold+=("$(ms "$t0" "$t1")") warm+=("$(ms "$t1" "$t2")")
done
echo "pull (cold, whole corpus DB): ${cold[*]} ms; median $(printf '%s\n' "${cold[@]}" | median) ms (goal <= 1000)"
echo "pull (unchanged):             ${warm[*]} ms; median $(printf '%s\n' "${warm[@]}" | median) ms (goal <= 50; process start included)"
echo "process start (warden version): ${start[*]} ms; median $(printf '%s\n' "${start[@]}" | median) ms"
echo "in-process (go test ./pkg/dbdist -bench Pull):"
WARDEN_BENCH_DB=$state/db go test ./pkg/dbdist -run '^$' -bench Pull -benchtime 10x -count 1 | grep Benchmark

# Sizes. The feeds as imported: the zips as shipped, the rest (secdb JSON, OVAL XML, tracker lists) compressed.
layer=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$port/v2/warden/db/manifests/2" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["size"])')
dbsize=$(stat -c %s "$state/db")
zips=$(find "$corpus/feeds" -maxdepth 1 -name '*.zip' -printf '%s\n' | awk '{s+=$1} END {print s}')
rest_gz=$(cd "$corpus/feeds" && tar cf - --exclude='*.zip' . | gzip -9 | wc -c)
rest_zst=$(cd "$corpus/feeds" && tar cf - --exclude='*.zip' . | zstd -19 -q -c | wc -c)
all_zst=$(cd "$corpus/feeds" && tar cf - . | zstd -19 -q -c | wc -c)
echo "database file:                     $dbsize bytes"
echo "artifact layer (zstd):             $layer bytes ($(( 100 * layer / dbsize ))% of the file)"
echo "feeds: zips as shipped + rest gzip -9:  $(( zips + rest_gz )) bytes -> artifact is $(python3 -c "print(round($layer/($zips+$rest_gz),3))")x"
echo "feeds: zips as shipped + rest zstd -19: $(( zips + rest_zst )) bytes -> artifact is $(python3 -c "print(round($layer/($zips+$rest_zst),3))")x"
echo "feeds: whole tree, zstd -19:            $all_zst bytes -> artifact is $(python3 -c "print(round($layer/$all_zst,3))")x"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# Peers (when bench/peers.sh built them; PATH=/tmp/peers:$PATH): each database built from the same Alpine secdb +
# Go vulndb files (bench/cmd/peerdata lays them out as each builder reads them), and Warden's from those two feeds,
# each packed as it is distributed: Warden's layer (zstd of the bbolt file), trivy-db's db.tar.gz (trivy.db +
# metadata.json, gzip), Grype v6's tar.zst (vulnerability.db + import.json).
C=$corpus
if command -v trivy-db >/dev/null || command -v grypedb >/dev/null; then
  go build -o "$work/" ./bench/cmd/peerdata
  ws=$work/same-state; rm -rf "$ws"
  "$bin" --cache-dir "$ws" db import "$C/feeds/alpine-secdb" "$C/feeds/go-vulndb-osv-all.zip" >/dev/null 2>&1
  wl=$(zstd -19 -q -c "$ws/db" | wc -c) # the layer as db push makes it (SpeedBestCompression is close to -19)
  echo "same data (Alpine secdb + Go vulndb): warden db $(stat -c %s "$ws/db") bytes, artifact ~$wl bytes"
fi
if command -v trivy-db >/dev/null; then
  rm -rf "$work/peer-in/trivy" "$work/trivy-out"
  "$work/peerdata" -alpine "$C/feeds/alpine-secdb" -govulndb "$C/feeds/go-vulndb-osv-all.zip" -trivy "$work/peer-in/trivy"
  trivy-db build --cache-dir "$work/peer-in/trivy" --output-dir "$work/trivy-out" --only-update alpine --only-update govulndb >/dev/null 2>&1
  tg=$(tar -C "$work/trivy-out" -czf - trivy.db metadata.json | wc -c)
  echo "trivy-db: trivy.db $(stat -c %s "$work/trivy-out/trivy.db") bytes, db.tar.gz $tg bytes -> warden is $(python3 -c "print(round($wl/$tg,3))")x"
fi
if command -v grypedb >/dev/null; then
  rm -rf "$work/peer-in/vunnel" "$work/grype6"
  "$work/peerdata" -alpine "$C/feeds/alpine-secdb" -govulndb "$C/feeds/go-vulndb-osv-all.zip" -vunnel "$work/peer-in/vunnel"
  grypedb -results "$work/peer-in/vunnel" -out "$work/grype6" >/dev/null 2>&1
  gz=$(tar -C "$work/grype6" -cf - . | zstd -q -c | wc -c)
  echo "grype v6: vulnerability.db $(stat -c %s "$work/grype6/vulnerability.db") bytes, tar.zst $gz bytes -> warden is $(python3 -c "print(round($wl/$gz,3))")x"
fi
