#!/usr/bin/env bash
# Build the oracle: crash 8.0.6 from Debian trixie's source package, with lzo, snappy and zstd
# support, and cache the binary at ${CRASHPY_CACHE:-$HOME/.cache/crashpy}/crash-8.0.6/crash.
#
# Debian 12 packages crash 8.0.2, which misreads our 6.1 test kernels; 8.0.6 reads them right
# (see /work/shared/VMCORES.md, "The oracle").  Idempotent and safe to run concurrently: a
# cached binary that says "crash 8.0.6" ends the script at once; otherwise one caller builds
# (under flock) while the others wait, and the binary is installed with an atomic rename.
#
# Steps: a deb-src-only line for trixie in its own sources file (no trixie binaries can come in),
# `apt-get update` of that one list, `apt-get source --download-only crash=8.0.6-*`, then
# crash's own build of the pristine orig tarball, which carries gdb-10.2.tar.gz and
# gdb-10.2.patch and untars, patches and builds gdb itself: `make lzo`, `make snappy`,
# `make zstd` (each adds -DLZO/-DSNAPPY/-DZSTD to CFLAGS.extra and its library to LDFLAGS.extra,
# deletes diskdump.o and relinks).  Debian's patches (debian/patches) are not applied, and the
# build does not need them: the oracle is upstream crash 8.0.6 exactly as in the orig tarball.
# (Some mirrors serve the orig tarball but not the .dsc and .debian.tar.xz: then only the orig
# tarball is fetched, with --tar-only; apt still checks it against the signed Sources index.)
#
# Needs root (or sudo) only to add the sources file and run apt-get update, and only when the
# orig tarball is not cached yet.  Build dependencies: tools/install-deps.sh.
# Environment: CRASHPY_CACHE (cache root), CRASHPY_BUILD_JOBS (make -j, default nproc),
# CRASHPY_KEEP_BUILD=1 (keep the build tree after a failure).
set -euo pipefail

VERSION=8.0.6
CACHE="${CRASHPY_CACHE:-$HOME/.cache/crashpy}"
DEST="$CACHE/crash-$VERSION"
BIN="$DEST/crash"
SRC="$DEST/src"
LOG="$DEST/build.log"
JOBS="${CRASHPY_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
APT_LIST=/etc/apt/sources.list.d/crashpy-trixie-src.list
APT_LINE="deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main"

# `crash --version` prints a blank line, then "crash 8.0.6", then copyright and gdb lines.
says_version() {
  [ -x "$1" ] && [ "$("$1" --version </dev/null 2>/dev/null | awk 'NF { print; exit }')" = "crash $VERSION" ]
}

have_oracle() {
  says_version "$BIN"
}

die() {
  echo "build-oracle-crash: $*" >&2
  if [ -s "$LOG" ]; then
    echo "--- last lines of $LOG ---" >&2
    tail -n 40 "$LOG" >&2
  fi
  exit 1
}

have_oracle && exit 0

mkdir -p "$DEST"
exec 9>"$DEST/.lock"
if ! flock -n 9; then
  echo "build-oracle-crash: another build of crash $VERSION is running; waiting for it" >&2
  flock 9
fi
have_oracle && exit 0
# We hold the lock: whatever a killed build left behind is garbage.
rm -rf "$DEST"/build-* "$DEST"/download-* "$DEST"/.crash.new.*

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# --- 1. the orig tarball (cached under $SRC once fetched) -----------------------------------
fetch_orig() {
  if [ "$(cat "$APT_LIST" 2>/dev/null)" != "$APT_LINE" ]; then
    echo "$APT_LINE" | as_root tee "$APT_LIST" >/dev/null
  fi
  # Update only our list; keep every other list as it is.
  as_root apt-get update -q -o Dir::Etc::sourcelist="$APT_LIST" -o Dir::Etc::sourceparts=- \
    -o APT::Get::List-Cleanup=0 >>"$LOG" 2>&1 || die "apt-get update of $APT_LIST failed"
  local versions srcver
  versions="$(apt-cache showsrc crash 2>>"$LOG" | sed -n 's/^Version: //p' | sort -u)"
  srcver="$(printf '%s\n' "$versions" | grep -E "^([0-9]+:)?$VERSION-" | sort -V | tail -n 1 || true)"
  [ -n "$srcver" ] || die "no crash $VERSION-* source package in trixie (found: $(echo $versions))"
  echo "source package crash $srcver" >>"$LOG"
  local dl
  dl="$(mktemp -d "$DEST/download-XXXXXX")"
  # Full source package first; some mirrors serve only the orig tarball, which is all we build.
  if ! (cd "$dl" && apt-get source --download-only "crash=$srcver") >>"$LOG" 2>&1; then
    echo "full source package not downloadable; fetching the orig tarball alone" >>"$LOG"
    (cd "$dl" && apt-get source --download-only --tar-only "crash=$srcver") >>"$LOG" 2>&1 ||
      { rm -rf "$dl"; die "apt-get source --download-only crash=$srcver failed"; }
  fi
  [ -f "$dl/crash_$VERSION.orig.tar.gz" ] || { rm -rf "$dl"; die "no crash_$VERSION.orig.tar.gz downloaded"; }
  rm -rf "$SRC"
  mv "$dl" "$SRC"
}

: >"$LOG"
start=$(date +%s)
echo "build-oracle-crash: building crash $VERSION (about 10 min on 2 cores); log: $LOG" >&2
if [ ! -f "$SRC/crash_$VERSION.orig.tar.gz" ] || ! gzip -t "$SRC/crash_$VERSION.orig.tar.gz" 2>/dev/null; then
  fetch_orig
fi

# --- 2. build in a temporary tree --------------------------------------------------------------
BUILD="$(mktemp -d "$DEST/build-XXXXXX")"
cleanup() {
  if [ "${CRASHPY_KEEP_BUILD:-0}" = 1 ] && [ ! -x "$BIN" ]; then
    echo "build-oracle-crash: build tree kept in $BUILD" >&2
  else
    rm -rf "$BUILD"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

tar -xzf "$SRC/crash_$VERSION.orig.tar.gz" -C "$BUILD" || die "cannot unpack the orig tarball"
TREE="$BUILD/crash-$VERSION"
[ -f "$TREE/Makefile" ] && [ -f "$TREE/gdb-10.2.tar.gz" ] || die "unexpected orig tarball layout"
export TERM=dumb  # crash's Makefile shows wget progress etc. only on a terminal
for target in lzo snappy zstd; do
  echo "=== make -j$JOBS $target ===" >>"$LOG"
  make -C "$TREE" -j"$JOBS" "$target" </dev/null >>"$LOG" 2>&1 || die "make $target failed"
done

says_version "$TREE/crash" ||
  die "the built binary does not say crash $VERSION"
# ldd's list is read whole before it is searched: `ldd | grep -q` under pipefail fails at random when
# grep exits at its first match while ldd is still writing (SIGPIPE).
linked="$(ldd "$TREE/crash")" || die "ldd cannot read the built binary"
for lib in liblzo2 libsnappy libzstd; do
  case "$linked" in *"$lib"*) ;; *) die "the built binary is not linked with $lib" ;; esac
done

# --- 3. atomic install -------------------------------------------------------------------------
install -m 0755 "$TREE/crash" "$DEST/.crash.new.$$"
mv -f "$DEST/.crash.new.$$" "$BIN"
echo "built in $(( $(date +%s) - start )) s" >>"$LOG"
echo "build-oracle-crash: crash $VERSION built in $(( ($(date +%s) - start) / 60 )) min: $BIN" >&2
