#!/usr/bin/env bash
# Builds etcd (the store kube-apiserver needs; Debian's etcd 3.4 is older than Kubernetes 1.37 supports) from the Go
# module proxy, cached by version under /var/cache/warden-ci. Prints the binary's path.
# go.etcd.io/etcd/server/v3 is the etcd program (its main.go calls etcdmain), but its go.mod replaces its sibling
# modules with ../api etc., so `go install mod@version` refuses it: a throwaway module requires it and builds it.
set -euo pipefail
ver=v3.6.16
cache=${WARDEN_CI_CACHE:-/var/cache/warden-ci}
out=$cache/etcd-$ver
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$cache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
work=$(mktemp -d /tmp/etcd-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module warden.invalid/etcd-build\n\ngo 1.24\n' >go.mod
echo "etcd.sh: building etcd $ver, this takes a few minutes" >&2
go get "go.etcd.io/etcd/server/v3@$ver" >&2
nice -n "${WARDEN_CI_NICE:-15}" go build -trimpath -o "$out.tmp" go.etcd.io/etcd/server/v3
mv "$out.tmp" "$out"
echo "$out"
