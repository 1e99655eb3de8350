"""Tell a dump from anything else by its content, and open it with the right reader."""

from __future__ import annotations

import struct

from crashpy.dumpfile.base import DumpFile
from crashpy.dumpfile.elf import ELF_MAGIC, ET_CORE, ElfDump
from crashpy.dumpfile.flattened import FlattenedSource, is_flattened_header, open_flattened_source
from crashpy.dumpfile.kdump import DISKDUMP_SIGNATURE, KDUMP_SIGNATURE, KdumpCompressed
from crashpy.dumpfile.source import FileSource, closed_on_failure
from crashpy.errors import DumpFormatError

_SNIFF_BYTES = 64


def sniff_bytes(head: bytes) -> str | None:
    """The dump format the first bytes of a file announce: "ELF", "KDUMP", "DISKDUMP", "FLAT" or None.

    An ELF file counts only when it is a core (e_type ET_CORE): a vmlinux (ET_EXEC) is not a dump.
    """
    if head[:4] == ELF_MAGIC and len(head) >= 18:
        e_type = struct.unpack_from(">H" if head[5] == 2 else "<H", head, 16)[0]
        return "ELF" if e_type == ET_CORE else None
    if head[:8] == KDUMP_SIGNATURE:
        return "KDUMP"
    if head[:8] == DISKDUMP_SIGNATURE:
        return "DISKDUMP"
    if is_flattened_header(head):
        return "FLAT"
    return None


def sniff(path: str) -> str | None:
    """The dump format of the file at `path` (see sniff_bytes), or None; reads 64 bytes, never raises."""
    try:
        with open(path, "rb") as f:
            return sniff_bytes(f.read(_SNIFF_BYTES))
    except OSError:
        return None


def is_dump(path: str) -> bool:
    """Whether `path` looks like a dump crashpy reads (cheap: the CLI uses it to order its arguments)."""
    return sniff(path) is not None


def open_dump(path: str) -> DumpFile:
    """Open the dump at `path` read-only, whatever its format; DumpFormatError if it is not one."""
    source = FileSource(path)
    with closed_on_failure([source]):
        head = source.pread(0, _SNIFF_BYTES)
        if not head:
            raise DumpFormatError(f"{path}: not a supported file format (empty file)")
        if head[:4] == ELF_MAGIC:
            return ElfDump(source)  # says what kind of ELF it is if not a core
        kind = sniff_bytes(head)
        if kind in ("KDUMP", "DISKDUMP"):
            return KdumpCompressed(source)
        if kind == "FLAT":
            return open_flattened_source(FlattenedSource(source))
        raise DumpFormatError(f"{path}: not a supported file format")
