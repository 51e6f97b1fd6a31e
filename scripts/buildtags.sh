#!/usr/bin/env bash
# Prints the Go build tags Warden is built and tested with on this machine: "isal" when cgo is on and ISA-L's
# headers are installed (Debian/Ubuntu package libisal-dev), which builds ISA-L's inflater into the binary
# (pkg/inflate; the binary then needs libisal2 at run time). Prints nothing otherwise: a pure Go build, which still
# uses an installed igzip process (package isal) for large gzip layers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(go env CGO_ENABLED)" = 1 ] || exit 0
cc=$(go env CC)
if printf '#include <isa-l/igzip_lib.h>\n' | ${cc:-cc} -E -x c - >/dev/null 2>&1; then
  echo isal
fi
