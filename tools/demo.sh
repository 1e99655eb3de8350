#!/usr/bin/env bash
# Set crashpy up (Debian packages, pip install), build the demo crash dump (cached), and open it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh >&2
python3 tools/vmcores.py sysrq.d31.zlib >&2
krel="$(python3 tools/vmcores.py --release)"
cache="${CRASHPY_CACHE:-$HOME/.cache/crashpy}/vmcores/$krel"
exec crashpy "$cache/kernel/usr/lib/debug/boot/vmlinux-$krel" "$cache/sysrq.d31.zlib" "$@"
