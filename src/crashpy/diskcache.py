"""Answers kept on disk between sessions, under $CRASHPY_CACHE (default ~/.cache/crashpy).

What crashpy builds once per kernel or per dump and would otherwise rebuild at every start-up: crash's
symbol view (symtab/), gdb's minimal symbols for dis (dis-minsyms/), the BTF index (btf-index/), the
names found in DWARF (dwarf-index/), for a dump opened without its vmlinux the decoded kallsyms, their
symbol view and the BTF index (nodebug/), and the kernel decompressed from a bzImage (vmlinuz/).
Each entry is written whole under a temporary name and renamed, so a reader never sees half of one;
a cache that cannot be written (a read-only home) only costs the next session the build.

The entries together are kept under a limit: $CRASHPY_CACHE_LIMIT MiB (default 1024).  After each
new entry the least recently used ones go until they fit (a read marks an entry used).  An entry
is 2-5 MB per kernel or per dump (a decompressed kernel about 60 MB), so fleet triage of thousands
of dumps does not fill the disk.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

KINDS = ("symtab", "dis-minsyms", "btf-index", "dwarf-index", "nodebug", "vmlinuz")  # the directories pruned
DEFAULT_LIMIT_MIB = 1024


def root() -> Path:
    return Path(os.environ.get("CRASHPY_CACHE") or Path.home() / ".cache" / "crashpy")


def limit_bytes() -> int:
    """$CRASHPY_CACHE_LIMIT (MiB) as bytes; the default when unset or not a number."""
    try:
        mib = int(os.environ.get("CRASHPY_CACHE_LIMIT", ""))
    except ValueError:
        mib = DEFAULT_LIMIT_MIB
    return max(mib, 0) << 20


def entry(kind: str, key: str | bytes, prefix: str = "", suffix: str = ".marshal") -> Path:
    """The file that keeps the answer for `key` (every fact it depends on) in `kind`."""
    raw = key.encode() if isinstance(key, str) else key
    return root() / kind / f"{prefix}{hashlib.sha256(raw).hexdigest()[:24]}{suffix}"


def touch(path: Path) -> None:
    """Mark the entry used (the least recently used go first)."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only cache: the order of use is only a hint


def read_bytes(path: Path) -> bytes | None:
    """The entry's bytes (and the entry marked used), or None when there is none."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    touch(path)
    return data


def write_bytes(path: Path, data: bytes | bytearray | memoryview) -> bool:
    """Keep `data` as the entry `path`, whole or not at all, then bring the cache under its limit;
    False when it could not be written (a read-only cache costs the next session the build)."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    new = not path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        except OSError:
            pass
        return False
    if new:  # an entry rewritten as it grows (the DWARF name index) is pruned for when it was made
        prune(limit_bytes(), keep=path)
    return True


def load(path: Path | None) -> object | None:
    """The value marshal kept in the entry, or None (no entry, or a damaged one)."""
    data = read_bytes(path) if path is not None else None
    if data is None:
        return None
    try:
        return marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None


def save(path: Path | None, value: Any) -> None:  # noqa: ANN401 - whatever marshal writes
    if path is not None:
        write_bytes(path, marshal.dumps(value))


def prune(limit: int, keep: Path | None = None) -> int:
    """Remove the least recently used entries until all of them fit in `limit` bytes (`keep`, the one
    just written, stays); the bytes removed."""
    entries: list[tuple[int, int, str]] = []  # (mtime, size, path)
    total = 0
    base = root()
    for kind in KINDS:
        try:
            with os.scandir(base / kind) as it:
                for e in it:
                    try:
                        if e.is_file(follow_symlinks=False):
                            st = e.stat(follow_symlinks=False)
                            entries.append((st.st_mtime_ns, st.st_size, e.path))
                            total += st.st_size
                    except OSError:
                        continue
        except OSError:
            continue
    if total <= limit:
        return 0
    removed = 0
    keep_path = str(keep) if keep is not None else None
    for _mtime, size, path in sorted(entries):
        if total <= limit:
            break
        if path == keep_path:
            continue
        try:
            os.unlink(path)
        except OSError:
            continue  # another session removed it, or the cache is read-only
        total -= size
        removed += size
    return removed
