"""Where DWARF sections come from: an ElfFile, or sections held in memory (tests, sections read from
elsewhere). Both give a section's bytes by name as a SectionBytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from crashpy.elf.sections import SectionBytes


class DwarfSource(Protocol):
    """What the DWARF readers ask of a file (an ElfFile has all of it)."""

    path: str
    order: Literal["<", ">"]
    byteorder: Literal["little", "big"]
    address_size: int

    @property
    def is_relocatable(self) -> bool: ...

    def section_bytes(self, which: str) -> SectionBytes | None: ...

    def has_section(self, name: str) -> bool: ...


class MemorySections:
    """DWARF sections given as {name: bytes}: ".debug_info", ".debug_abbrev", ".debug_line", ..."""

    def __init__(
        self,
        sections: Mapping[str, bytes],
        *,
        little_endian: bool = True,
        address_size: int = 8,
        path: str = "<memory>",
    ) -> None:
        self.path = path
        self.order: Literal["<", ">"] = "<" if little_endian else ">"
        self.byteorder: Literal["little", "big"] = "little" if little_endian else "big"
        self.address_size = address_size
        self._sections = {name: SectionBytes.of(name, bytes(data)) for name, data in sections.items()}

    @property
    def is_relocatable(self) -> bool:
        """Sections in memory are taken as already relocated."""
        return False

    def section_bytes(self, which: str) -> SectionBytes | None:
        """The section called `which`, or None (absent or empty)."""
        sec = self._sections.get(which)
        return sec if sec is not None and sec.size else None

    def has_section(self, name: str) -> bool:
        """Whether a non-empty section called `name` is here."""
        return self.section_bytes(name) is not None
