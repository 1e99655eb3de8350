#!/usr/bin/env bash
# Install everything crashpy, its test dumps and the oracle crash need (Debian 12, as root).
# Idempotent; used by .ci/run and by the README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
# The kernel the test dumps are built from: the pinned one while Debian's archive has it, else the
# newest 6.1 cloud kernel there (tools/vmcores.py --release; $CRASHPY_KREL overrides).
KREL="$(python3 tools/vmcores.py --release)"
if ! apt-cache policy "linux-headers-$KREL" 2>/dev/null | grep -q "Candidate: [0-9]"; then
  # package lists missing or stale (a fresh machine): refresh them, then choose again
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  KREL="$(python3 tools/vmcores.py --release)"
fi
APT_PKGS=(
  # building and booting the test dumps (gcc and libc6-dev: the guest's static spawn helper)
  qemu-system-x86 busybox-static makedumpfile cpio kmod gcc-12 gcc libc6-dev make "linux-headers-$KREL" xz-utils
  # building the oracle crash 8.0.6 from Debian's source package
  dpkg-dev g++ bison flex texinfo libncurses-dev zlib1g-dev liblzo2-dev libsnappy-dev libzstd-dev
  libgmp-dev libmpfr-dev wget
  # tmux for terminal tests; capsh (libcap2-bin) for the unreadable-file test when running as root;
  # gdb for the type cross-checks against gdb and for gdb-add-index (the oracle's indexed vmlinux)
  tmux libcap2-bin gdb
)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
