#!/usr/bin/env bash
# Prints a directory holding ISA-L as a static library (lib/libisal.a) and its headers (include/isa-l/*.h), for
# the static release binary (scripts/release.sh). Debian's libisal-dev ships only the shared library, so this builds
# the igzip and crc units of Debian's own source package (libisal 2.30.0-5, the version libisal-dev has) once and
# keeps the result in $WARDEN_ISAL_STATIC (default /var/cache/warden-ci/isal-2.30.0-5). The source comes through
# apt (a deb-src entry in a private apt state under that directory; the system's apt sources are not changed) and is
# checked against the pinned SHA-256 below. Needs nasm and a C compiler (installed with apt-get when missing).
set -euo pipefail
ver=2.30.0
deb=2.30.0-5
orig_sha256=f363f1be3d657d5676cef5253ee2233e60116e2fa9c9de86881185bf81e0e4b8
out=${WARDEN_ISAL_STATIC:-/var/cache/warden-ci/isal-$deb}

# A Debian that ships the static library makes all of this unnecessary.
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
if [ -n "$multiarch" ] && [ -f "/usr/lib/$multiarch/libisal.a" ] && [ -f /usr/include/isa-l/igzip_lib.h ]; then
  mkdir -p "$out/lib" "$out/include"
  ln -sfn "/usr/lib/$multiarch/libisal.a" "$out/lib/libisal.a"
  ln -sfn /usr/include/isa-l "$out/include/isa-l"
  echo "$out"
  exit 0
fi
if [ -f "$out/lib/libisal.a" ] && [ -f "$out/include/isa-l/igzip_lib.h" ]; then
  echo "$out"
  exit 0
fi

log() { echo "isal-static: $*" >&2; }
need=()
command -v nasm >/dev/null || need+=(nasm)
command -v gcc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/isal-static.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/parts" "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
cat > "$work/apt/parts/deb-src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt/parts"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o APT::Sandbox::User=root)
log "fetching Debian's source package libisal $deb"
apt-get "${apt_opts[@]}" -qq update >&2
(cd "$work/src" && apt-get "${apt_opts[@]}" -qq source --download-only "libisal=$deb" >&2)
tarball="$work/src/libisal_$ver.orig.tar.xz"
echo "$orig_sha256  $tarball" | sha256sum -c --quiet - >&2 || { log "$tarball: SHA-256 differs from the pinned one"; exit 1; }
tar -xJf "$tarball" -C "$work/src"
log "building ISA-L $ver (igzip, crc) as a static library"
make -C "$work/src/libisal-$ver" -f Makefile.unx -j"$(nproc)" units=igzip lib >&2
mkdir -p "$out.tmp/lib" "$out.tmp/include/isa-l"
cp "$work/src/libisal-$ver/bin/isa-l.a" "$out.tmp/lib/libisal.a"
cp "$work/src/libisal-$ver"/include/*.h "$out.tmp/include/isa-l/"
cp "$work/src/libisal-$ver/LICENSE" "$out.tmp/LICENSE"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
