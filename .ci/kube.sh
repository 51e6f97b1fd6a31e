#!/usr/bin/env bash
# Builds Kubernetes' kube-apiserver (the real API server the admission webhook test registers Warden with) from the Go
# module proxy, cached by version under /var/cache/warden-ci. Prints the binary's path.
# k8s.io/kubernetes requires its staging modules (k8s.io/api, apimachinery, apiserver, client-go, ...) at v0.0.0 with
# replace directives to ./staging, which a dependency's replaces do not carry: the throwaway module below requires
# k8s.io/kubernetes and replaces every k8s.io/* it names at v0.0.0 with the matching published v0.x release.
# A cold build took 6 min 27 s on this machine's 2 cores beside a CI run (2026-12-05; over an hour when 30 other
# processes shared them); the Go build cache keeps what was compiled, so an interrupted build resumes where it stopped.
set -euo pipefail
ver=v1.37.2
cache=${WARDEN_CI_CACHE:-/var/cache/warden-ci}
out=$cache/kube-apiserver-$ver
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$cache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
mod=$(go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$mod" ] || { echo "kube.sh: go mod download of k8s.io/kubernetes@$ver gave no go.mod" >&2; exit 1; }
staging=v0.${ver#v1.}
work=$(mktemp -d /tmp/kube-apiserver-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
{
  echo "module warden.invalid/kube-apiserver-build"
  echo
  echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$mod")"
  echo
  echo "require k8s.io/kubernetes $ver"
  echo
  # every k8s.io module the kubernetes go.mod requires at the placeholder v0.0.0 (its staging directory)
  sed -n 's/^[[:space:]]*\(k8s\.io\/[a-z0-9.-]*\) v0\.0\.0$/\1/p' "$mod" | sort -u |
    while read -r m; do echo "replace $m => $m $staging"; done
} >"$work/go.mod"
cd "$work"
echo "kube.sh: building kube-apiserver $ver (staging modules at $staging); a cold build takes minutes on quiet cores" >&2
go get "k8s.io/kubernetes/cmd/kube-apiserver@$ver" >&2
nice -n "${WARDEN_CI_NICE:-15}" go build -trimpath -o "$out.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$out.tmp" "$out"
echo "$out"
