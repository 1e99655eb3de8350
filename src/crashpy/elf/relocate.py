"""A relocatable object's sections (a kernel module's .ko) as they are once its sections are placed.

A module is ET_REL: its DWARF's addresses and its offsets into other debug sections are relocations
(`.rela.debug_info`, `.rela.debug_line`, ...) still to apply. `RelocatedSections` applies them to a
section when it is first asked for (one pass over that section's RELA entries, each section once),
with each symbol's value taken from where its section was placed (`addresses`: section name -> load
address, from the kernel's struct module sect_attrs; debug sections are not loaded and stay at 0).
It answers the DwarfSource protocol, so the DWARF readers see a linked file.
"""

from __future__ import annotations

import struct
from typing import Literal

from crashpy.elf.constants import SHF_ALLOC
from crashpy.elf.errors import ElfError
from crashpy.elf.file import ElfFile
from crashpy.elf.sections import SectionBytes

SHT_RELA = 4
R_X86_64_NONE = 0
R_X86_64_64 = 1
R_X86_64_PC32 = 2
R_X86_64_32 = 10
R_X86_64_32S = 11
R_X86_64_PC64 = 24
_RELA = struct.Struct("<QQq")


class RelocatedSections:
    """The sections of ET_REL file `elf` with their relocations applied, for sections placed at
    `addresses` (name -> address); what is not placed sits at address 0."""

    def __init__(self, elf: ElfFile, addresses: dict[str, int]) -> None:
        if not elf.is64 or elf.order != "<":
            raise ElfError(f"{elf.path}: not a 64-bit little-endian object file")
        self.elf = elf
        self.path = elf.path
        self.order: Literal["<", ">"] = "<"
        self.byteorder: Literal["little", "big"] = "little"
        self.address_size = 8
        self.addresses = addresses
        self._done: dict[str, SectionBytes | None] = {}
        self._symvalues: list[int] | None = None

    @property
    def is_relocatable(self) -> bool:
        """Relocations are applied here: the DWARF readers see placed addresses."""
        return False

    def has_section(self, name: str) -> bool:
        return self.elf.has_section(name)

    def section_address(self, index: int) -> int:
        """Where section number `index` was placed (0 for a section that is not loaded)."""
        if not 0 < index < len(self.elf.sections):
            return 0
        sec = self.elf.sections[index]
        if not sec.flags & SHF_ALLOC:
            return 0
        return self.addresses.get(sec.name, 0)

    def _symbol_values(self) -> list[int]:
        """Each symbol's placed value: st_value plus its section's address (SHN_ABS and undefined
        symbols as they are)."""
        if self._symvalues is None:
            tab = self.elf.symtab
            values: list[int] = []
            if tab is not None:
                for _name, _info, _other, shndx, value, _size in tab.rows():
                    values.append(value + self.section_address(shndx) if 0 < shndx < 0xFF00 else value)
            self._symvalues = values
        return self._symvalues

    def section_bytes(self, which: str) -> SectionBytes | None:
        """Section `which`, relocated (a copy) when the file has RELA entries for it."""
        if which in self._done:
            return self._done[which]
        sec = self.elf.section_bytes(which)
        out = sec
        if sec is not None:
            rela = self._rela_for(which)
            if rela is not None:
                data = bytearray(sec.all())
                self._apply(data, rela, self.section_address(self._index_of(which)), which)
                out = SectionBytes(sec.name, bytes(data), 0, len(data), sec.addr)
        self._done[which] = out
        return out

    def _index_of(self, name: str) -> int:
        found = self.elf.section(name)
        return found.index if found is not None else 0

    def _rela_for(self, name: str) -> bytes | None:
        """The RELA entries that apply to section `name`."""
        target = self._index_of(name)
        for sec in self.elf.sections:
            if sec.type == SHT_RELA and sec.info == target and target:
                return self.elf.section_data(sec)
        return None

    def _apply(self, data: bytearray, rela: bytes, place_base: int, where: str) -> None:
        values = self._symbol_values()
        size = len(data)
        for offset, info, addend in _RELA.iter_unpack(rela[: len(rela) - len(rela) % _RELA.size]):
            kind, sym = info & 0xFFFFFFFF, info >> 32
            if kind == R_X86_64_NONE:
                continue
            if sym >= len(values):
                raise ElfError(f"{self.path}: {where}: relocation against symbol {sym} beyond the table")
            s = values[sym] + addend
            if kind == R_X86_64_64:
                width, v = 8, s
            elif kind in (R_X86_64_32, R_X86_64_32S):
                width, v = 4, s
            elif kind == R_X86_64_PC32:
                width, v = 4, s - (place_base + offset)
            elif kind == R_X86_64_PC64:
                width, v = 8, s - (place_base + offset)
            else:
                raise ElfError(f"{self.path}: {where}: relocation type {kind} is not supported")
            if offset + width > size:
                raise ElfError(f"{self.path}: {where}: relocation at {offset:#x} beyond the section")
            data[offset : offset + width] = (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
