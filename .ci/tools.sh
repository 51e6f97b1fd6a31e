#!/usr/bin/env bash
# Installs the pinned peer tools the tests talk to (from the Go module proxy) into $(go env GOPATH)/bin.
# Each build is cached by Go's build cache, so a second run takes seconds.
set -euo pipefail
export GOFLAGS=-mod=mod
bin=$(go env GOPATH)/bin
want() { [ -x "$bin/$1" ] && [ -f "$bin/.$1.version" ] && [ "$(cat "$bin/.$1.version")" = "$2" ]; }
inst() { # name module@version [env...]
  local name=$1 mod=$2; shift 2
  if want "$name" "$mod"; then echo "tools: $name ok ($mod)"; return; fi
  echo "tools: installing $name ($mod)"
  env "$@" go install "$mod"
  echo "$mod" > "$bin/.$name.version"
}
inst crane github.com/google/go-containerregistry/cmd/crane@v0.22.1
inst govulncheck golang.org/x/vuln/cmd/govulncheck@v1.9.0
inst conformance github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111
inst cosign github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3
inst indexdb golang.org/x/vulndb/cmd/indexdb@v0.0.0-20261105234957-e22db6528018
