#!/usr/bin/env bash
# Push/pull throughput of `warden serve` on S3 (+ PostgreSQL metadata) against CNCF Distribution v3.1.2 with its
# S3 driver, on the same SeaweedFS server, in one run; crane is the client.
#
#   bash bench/registry-s3.sh [SIZE_MB]     (default 200; RUNS=3 repetitions, best kept)
#
# The image is SIZE_MB of incompressible data in 5 uncompressed tar layers (an OCI layout). SeaweedFS's weed comes
# from .ci/weed.sh (cached), PostgreSQL from Debian's package (a throwaway cluster, as the postgres user when run
# as root), Distribution from the Go module proxy. Both registries use one bucket on the one weed server, each a
# fresh prefix per run. Everything it starts it stops (KEEP=1 keeps the work directory and its logs).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-200}
RUNS=${RUNS:-3}
LAYERS=5
export PATH="$(go env GOPATH)/bin:$PATH"
command -v crane >/dev/null || bash .ci/tools.sh
weed=$(bash .ci/weed.sh)
pgbin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")

work=$(mktemp -d /tmp/warden-bench-s3.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$work/pg" ] && $asuser "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
asuser=""
[ "$(id -u)" = 0 ] && asuser="runuser -u postgres --"
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_up() { for _ in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; echo "bench: $1 did not come up" >&2; exit 1; }

echo "bench: building warden, registry v3.1.2" >&2
go build -o "$work/warden" ./cmd/warden
go build -o "$work/regbench" ./bench/cmd/regbench
# Distribution is built once per version into the CI cache (as .ci/weed.sh does for weed).
dist=${WARDEN_CI_CACHE:-/var/cache/warden-ci}/distribution-v3.1.2/registry
if [ ! -x "$dist" ]; then
  mkdir -p "$(dirname "$dist")" "$work/bin"
  GOBIN="$work/bin" GOFLAGS=-mod=mod nice -n 10 go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2
  mv "$work/bin/registry" "$dist"
fi

# --- S3 (SeaweedFS) and PostgreSQL ---
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=bench-secret-key
mkdir -p "$work/weed"
printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > "$work/weed/s3.json"
S3PORT=$(port)
"$weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$work/weed" -master.port="$(port)" -master.port.grpc="$(port)" \
  -volume.port="$(port)" -volume.port.grpc="$(port)" -filer.port="$(port)" -filer.port.grpc="$(port)" \
  -s3 -s3.port="$S3PORT" -s3.port.grpc="$(port)" -s3.config="$work/weed/s3.json" -volume.max=0 -master.volumeSizeLimitMB=1024 -master.telemetry=false >"$work/weed.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$S3PORT/status"
endpoint="http://127.0.0.1:$S3PORT"
# One bucket (one SeaweedFS collection) for both registries, each under its own prefix. Two buckets were the cause of
# Distribution's "500 InternalError": weed gives every bucket its own volumes, and with its default 30 GB volume size
# and -volume.max=0 (slots from free disk) the second bucket found "no writable volumes and no free volumes left".
# Smaller volumes leave slots to spare. Distribution's S3 driver does not create its bucket; warden would.
code=$(curl -s -o "$work/bucket.txt" -w '%{http_code}' -X PUT "$endpoint/registry-bench" \
  --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
[ "$code" = 200 ] || { echo "bench: creating bucket registry-bench: HTTP $code $(cat "$work/bucket.txt")" >&2; exit 1; }
PGPORT=$(port)
mkdir -p "$work/pg"; [ -n "$asuser" ] && chown postgres "$work/pg"
$asuser "$pgbin/initdb" -D "$work/pg" -U warden --auth=trust --locale=C >/dev/null
$asuser "$pgbin/pg_ctl" -D "$work/pg" -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $work/pg" -l "$work/pg/log" -w start >/dev/null
$asuser "$pgbin/createdb" -h 127.0.0.1 -p "$PGPORT" -U warden warden

# --- the image ---
layout="$work/layout"
mkdir -p "$layout/blobs/sha256" "$work/raw"
per=$((SIZE_MB / LAYERS))
diffids=() descs=()
for i in $(seq 1 $LAYERS); do
  mkdir -p "$work/raw/l$i"
  head -c "${per}M" /dev/urandom > "$work/raw/l$i/data$i.bin"
  tar -C "$work/raw/l$i" -cf "$work/layer$i.tar" "data$i.bin"
  rm -rf "$work/raw/l$i"
  d=$(sha256sum "$work/layer$i.tar" | cut -d' ' -f1); sz=$(stat -c %s "$work/layer$i.tar")
  mv "$work/layer$i.tar" "$layout/blobs/sha256/$d"
  diffids+=("\"sha256:$d\""); descs+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$sz}")
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
mb=$(awk -v b="$(du -sb "$layout/blobs" | cut -f1)" 'BEGIN{printf "%.1f", b/1048576}')
echo "bench: image of $mb MiB in $LAYERS layers" >&2

now() { date +%s.%N; }
best() { sort -g | head -1; }
start_warden() { # run number
  PORT=$(port)
  "$work/warden" serve --addr "127.0.0.1:$PORT" --root "$work/wroot$1" --no-scan --cache-dir "$work/wcache" \
    --storage "s3://registry-bench/warden-run$1?endpoint=$endpoint&region=us-east-1" \
    --meta "postgres://warden@127.0.0.1:$PGPORT/warden?sslmode=disable" 2>"$work/warden.log" &
  pids+=($!); SPID=$!; wait_up "http://127.0.0.1:$PORT/v2/"
}
start_dist() {
  PORT=$(port)
  cat > "$work/dist.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  s3: {accesskey: $AWS_ACCESS_KEY_ID, secretkey: $AWS_SECRET_ACCESS_KEY, region: us-east-1, regionendpoint: "$endpoint",
       bucket: registry-bench, rootdirectory: /dist-run$1, forcepathstyle: true, secure: false, v4auth: true}
  delete: {enabled: true}
  redirect: {disable: true}
http: {addr: 127.0.0.1:$PORT}
EOF
  OTEL_TRACES_EXPORTER=none "$dist" serve "$work/dist.yml" 2>"$work/dist.log" &
  pids+=($!); SPID=$!; wait_up "http://127.0.0.1:$PORT/v2/"
}
measure() {
  local name=$1 push=() pull=()
  for r in $(seq 1 "$RUNS"); do
    "start_$name" "$r"
    local t0; t0=$(now)
    crane push --insecure "$layout" "127.0.0.1:$PORT/bench/img:1" >/dev/null 2>>"$work/crane.log" || { echo "bench: $name push failed" >&2; tail -n 5 "$work/crane.log" "$work/$name.log" >&2; exit 1; }
    push+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
    rm -rf "$work/pulled"
    t0=$(now)
    crane pull --insecure --format oci "127.0.0.1:$PORT/bench/img:1" "$work/pulled" 2>>"$work/crane.log"
    pull+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')")
    kill "$SPID"; wait "$SPID" 2>/dev/null || true
  done
  eval "${name}_push=$(printf '%s\n' "${push[@]}" | best)"
  eval "${name}_pull=$(printf '%s\n' "${pull[@]}" | best)"
}
# Per-request latency: regbench pushes LAT_N one-layer images (LAYER of LAT_SIZE, POST + PATCH + PUT, then config
# and manifest) from LAT_C clients, then pulls each back with its digest checked.
LAT_N=${LAT_N:-64} LAT_SIZE=${LAT_SIZE:-4MiB} LAT_C=${LAT_C:-8}
latency() {
  local name=$1
  "start_$name" lat
  "$work/regbench" -url "http://127.0.0.1:$PORT" -repo bench/lat -n "$LAT_N" -size "$LAT_SIZE" -c "$LAT_C" -name "$name" \
    > "$work/lat-$name.txt" || { echo "bench: $name regbench failed" >&2; tail -n 5 "$work/$name.log" >&2; exit 1; }
  kill "$SPID"; wait "$SPID" 2>/dev/null || true
}
measure warden
measure dist
latency warden
latency dist

rate() { awk -v m="$mb" -v t="$1" 'BEGIN{printf "%7.1f MiB/s (%6.2f s)", m/t, t}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
echo
echo "Registry throughput on S3 (SeaweedFS, one server), $mb MiB image, crane client, best of $RUNS (nproc=$(nproc))"
printf '  %-40s push %s   pull %s\n' "warden serve (S3 + PostgreSQL)" "$(rate "$warden_push")" "$(rate "$warden_pull")"
printf '  %-40s push %s   pull %s\n' "distribution v3.1.2 (S3 driver)" "$(rate "$dist_push")" "$(rate "$dist_pull")"
echo "  warden push time / distribution push time: $(ratio "$warden_push" "$dist_push")"
echo "  warden pull time / distribution pull time: $(ratio "$warden_pull" "$dist_pull")"
echo
echo "Per request, $LAT_N images of $LAT_SIZE from $LAT_C clients (regbench), each registry on its own fresh prefix:"
sed 's/^/  /' "$work/lat-warden.txt" "$work/lat-dist.txt"
thr() { sed -n "s/.* $1 \([0-9.]*\) MiB\/s.*/\1/p" "$work/lat-$2.txt"; }
echo "  warden/distribution throughput: push $(ratio "$(thr push warden)" "$(thr push dist)"), pull $(ratio "$(thr pull warden)" "$(thr pull dist)")"
