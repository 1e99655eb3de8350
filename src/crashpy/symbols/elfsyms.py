"""The vmlinux ELF: section headers and .symtab, read with struct over an mmap (no per-symbol objects up front)."""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

from crashpy.errors import StartupError

_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int


class ElfImage:
    """A read-only view of an ELF64 little-endian file (vmlinux or a module)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                self.map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as e:
            raise StartupError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
        m = self.map
        if len(m) < 64 or m[:4] != b"\x7fELF":
            raise StartupError(f"{path}: not an ELF file")
        if m[4] != 2 or m[5] != 1:
            raise StartupError(f"{path}: not a 64-bit little-endian ELF file")
        (self.e_type, self.e_machine) = struct.unpack_from("<HH", m, 16)
        (self.e_shoff,) = struct.unpack_from("<Q", m, 40)
        (shentsize, shnum, shstrndx) = struct.unpack_from("<HHH", m, 58)
        self.sections: list[Section] = []
        if self.e_shoff == 0 or shnum == 0:
            return
        if self.e_shoff + shnum * shentsize > len(m):
            raise StartupError(f"{path}: truncated ELF section headers")
        raw = [_SHDR.unpack_from(m, self.e_shoff + i * shentsize) for i in range(shnum)]
        strtab = raw[shstrndx]
        stroff = strtab[4]
        for r in raw:
            end = m.find(b"\0", stroff + r[0])
            name = m[stroff + r[0] : end].decode("ascii", "replace")
            self.sections.append(Section(name, r[1], r[2], r[3], r[4], r[5], r[6], r[9]))
        self._by_name = {s.name: s for s in self.sections}

    def section(self, name: str) -> Section | None:
        return self._by_name.get(name) if self.sections else None

    def section_data(self, name: str) -> bytes | None:
        s = self.section(name)
        if s is None or s.type == 8:  # SHT_NOBITS
            return None
        return self.map[s.offset : s.offset + s.size]

    def symbols(self) -> tuple[list[tuple[int, int, int, int, int, int]], bytes]:
        """Raw .symtab entries (st_name, st_info, st_other, st_shndx, st_value, st_size) and .strtab."""
        symtab = self.section(".symtab")
        if symtab is None:
            return [], b""
        strsec = self.sections[symtab.link]
        strtab = self.map[strsec.offset : strsec.offset + strsec.size]
        data = self.map[symtab.offset : symtab.offset + symtab.size]
        return list(_SYM.iter_unpack(data)), strtab

    def close(self) -> None:
        self.map.close()
