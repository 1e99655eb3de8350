"""The kernel's own symbol table (kallsyms), decoded from the dump's memory.

A kernel built with CONFIG_KALLSYMS keeps every symbol's name and address in .rodata, for its oops
messages and /proc/kallsyms (kernel/kallsyms.c, scripts/kallsyms.c):

- `kallsyms_num_syms`: how many symbols;
- `kallsyms_names`: one entry per symbol, in address order: a length byte (since 6.1 a length with
  the top bit set takes a second byte: `(b0 & 0x7f) | b1 << 7`), then that many token numbers;
- `kallsyms_token_table` / `kallsyms_token_index`: 256 NUL-terminated tokens and where each starts;
  a symbol's tokens put together give its nm letter, then its name;
- the addresses: `kallsyms_addresses[]` (absolute), or since 4.6 (CONFIG_KALLSYMS_BASE_RELATIVE)
  32-bit `kallsyms_offsets[]` from `kallsyms_relative_base`; with CONFIG_KALLSYMS_ABSOLUTE_PERCPU
  (x86_64 SMP up to 6.14) a non-negative offset is an absolute (per-CPU) value and a negative one
  lies `-1 - offset` above the base.

Since 6.0 VMCOREINFO names these tables (SYMBOL(kallsyms_names) ...), so they can be found with no
vmlinux at all; a System.map can name them for an older kernel.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import crashpy.diskcache as diskcache
from crashpy.bits import MASK64
from crashpy.errors import CrashpyError, FaultError

# The tables a decode needs, as VMCOREINFO (and System.map) name them.
TABLE_NAMES = (
    "kallsyms_names",
    "kallsyms_num_syms",
    "kallsyms_token_table",
    "kallsyms_token_index",
    "kallsyms_offsets",
    "kallsyms_relative_base",
    "kallsyms_addresses",
)

_MAX_SYMS = 4_000_000  # a corrupt count must not make the reader ask for gigabytes
_CHUNK = 1 << 16


class KallsymsError(CrashpyError):
    """The kernel's kallsyms tables could not be found or do not decode."""


Reader = Callable[[int, int], bytes]


@dataclass(frozen=True)
class KallsymsTables:
    """Where the tables lie (kernel virtual addresses); offsets or addresses, one of the two."""

    names: int
    num_syms: int
    token_table: int
    token_index: int
    offsets: int | None = None
    relative_base: int | None = None
    addresses: int | None = None

    @classmethod
    def from_symbols(cls, lookup: Mapping[str, int] | Callable[[str], int | None]) -> KallsymsTables | None:
        """The tables named by `lookup` (VMCOREINFO's SYMBOL() lines, a System.map), or None when the
        names, count or token tables are missing, or neither offsets nor addresses are named."""
        get = lookup.get if isinstance(lookup, Mapping) else lookup
        names, num, table, index = (get(n) for n in TABLE_NAMES[:4])
        offsets, base, addresses = get("kallsyms_offsets"), get("kallsyms_relative_base"), get("kallsyms_addresses")
        if names is None or num is None or table is None or index is None:
            return None
        if offsets is None and addresses is None:
            return None
        return cls(names, num, table, index, offsets, base, addresses)


@dataclass
class Kallsyms:
    """The decoded table: parallel lists in the kernel's order (by address)."""

    names: list[str]
    addresses: list[int]
    letters: list[str]
    absolute_percpu: bool = False

    def __len__(self) -> int:
        return len(self.names)


def _read(read: Reader, addr: int, size: int, what: str) -> bytes:
    try:
        data = read(addr, size)
    except FaultError as e:
        raise KallsymsError(f"kallsyms: cannot read {what} at {addr:x}: {e.message()}") from None
    if len(data) < size:
        raise KallsymsError(f"kallsyms: {what} at {addr:x} is cut short")
    return data


class _Stream:
    """kallsyms_names, read as the decode walks it (its length is not recorded): a 64 KiB chunk at a
    time, a page at a time where a chunk cannot be read whole."""

    def __init__(self, read: Reader, start: int) -> None:
        self.read, self.start = read, start
        self.data = b""

    def need(self, end: int) -> bytes:
        while len(self.data) < end:
            addr = self.start + len(self.data)
            try:
                chunk = self.read(addr, _CHUNK - (addr & (_CHUNK - 1)))
            except FaultError:
                chunk = b""
            if not chunk:
                try:
                    chunk = self.read(addr, 0x1000 - (addr & 0xFFF))
                except FaultError as e:
                    raise KallsymsError(f"kallsyms: cannot read kallsyms_names at {addr:x}: {e.message()}") from None
            if not chunk:
                raise KallsymsError(f"kallsyms: kallsyms_names at {self.start:x} is cut short")
            self.data += chunk
        return self.data


def _tokens(read: Reader, tables: KallsymsTables) -> list[bytes]:
    index = struct.unpack("<256H", _read(read, tables.token_index, 512, "kallsyms_token_index"))
    span = max(index) + 256
    raw = _read(read, tables.token_table, span, "kallsyms_token_table")
    tokens: list[bytes] = []
    for off in index:
        end = raw.find(b"\0", off)
        if end < 0:
            raise KallsymsError("kallsyms: kallsyms_token_table does not decode")
        tokens.append(raw[off:end])
    return tokens


def decode(read: Reader, tables: KallsymsTables) -> Kallsyms:
    """Decode the kernel's kallsyms through `read(address, size)`; KallsymsError in one line when a
    table cannot be read or does not decode."""
    count = struct.unpack("<I", _read(read, tables.num_syms, 4, "kallsyms_num_syms"))[0]
    if not 0 < count <= _MAX_SYMS:
        raise KallsymsError(f"kallsyms: kallsyms_num_syms is {count}: the table does not decode")
    tokens = _tokens(read, tables)
    stream = _Stream(read, tables.names)
    data = stream.need(2)
    pos = 0
    raw_names: list[bytes] = []
    join = b"".join
    for _ in range(count):
        if pos + 2 > len(data):
            data = stream.need(pos + 2)
        n = data[pos]
        pos += 1
        if n & 0x80:
            n = (n & 0x7F) | (data[pos] << 7)
            pos += 1
        if n == 0:
            raise KallsymsError("kallsyms: an empty entry in kallsyms_names: the table does not decode")
        if pos + n > len(data):
            data = stream.need(pos + n)
        raw_names.append(join(map(tokens.__getitem__, data[pos : pos + n])))
        pos += n
    letters: list[str] = []
    names: list[str] = []
    for raw in raw_names:
        text = raw.decode("latin-1")
        letters.append(text[0])
        names.append(text[1:])
    if not all(names) or any(not ch.isalpha() and ch != "?" for ch in set(letters)):
        raise KallsymsError("kallsyms: symbol names do not decode (not a kallsyms table)")
    addresses, absolute = _addresses(read, tables, count)
    return Kallsyms(names, addresses, letters, absolute)


def _addresses(read: Reader, tables: KallsymsTables, count: int) -> tuple[list[int], bool]:
    """Every symbol's address, and whether the offsets were in the absolute-percpu form."""
    if tables.offsets is None:
        assert tables.addresses is not None
        raw = _read(read, tables.addresses, 8 * count, "kallsyms_addresses")
        return list(struct.unpack(f"<{count}Q", raw)), False
    offsets = struct.unpack(f"<{count}i", _read(read, tables.offsets, 4 * count, "kallsyms_offsets"))
    # With CONFIG_KALLSYMS_ABSOLUTE_PERCPU the kernel's own symbols are the negative offsets; without
    # it every offset is an unsigned distance from the base (a kernel image is far below 2 GB).
    absolute = any(o < 0 for o in offsets)
    base = tables.relative_base
    if base is not None:
        base = struct.unpack("<Q", _read(read, base, 8, "kallsyms_relative_base"))[0]
    else:
        raise KallsymsError("kallsyms: kallsyms_relative_base is not named: the addresses cannot be placed")
    if absolute:
        return [o if o >= 0 else (base - 1 - o) & MASK64 for o in offsets], True
    return [(base + (o & 0xFFFFFFFF)) & MASK64 for o in offsets], False



# ---- the decoded table, kept on disk --------------------------------------------------------------
# Decoding takes a few hundred ms of Python; the answer depends only on the kernel build and where it
# was loaded, both of which VMCOREINFO (its symbol addresses, KERNELOFFSET, the release) pins down.

_CACHE_VERSION = 1


def cache_file(vmcoreinfo: bytes, what: str) -> Path:
    """Where the answer `what` ("kallsyms", "btf-index") for the kernel this VMCOREINFO describes is
    kept, in crashpy's disk cache (crashpy/diskcache.py)/nodebug."""
    return diskcache.entry("nodebug", b"%d:%s:" % (_CACHE_VERSION, what.encode()) + vmcoreinfo, prefix=f"{what}-")


def load_cached(path: Path) -> Kallsyms | None:
    saved = diskcache.load(path)
    if not (isinstance(saved, tuple) and len(saved) == 4):
        return None
    names, addresses, letters, absolute = saved
    if not (isinstance(names, list) and isinstance(addresses, list) and isinstance(letters, list)
            and len(names) == len(addresses) == len(letters)):
        return None
    return Kallsyms(names, addresses, letters, bool(absolute))


def save_cached(path: Path, ks: Kallsyms) -> None:
    diskcache.save(path, (ks.names, ks.addresses, ks.letters, ks.absolute_percpu))
