"""crashpy.elf layer (see docs/architecture.md): the one reader of ELF files (headers, sections, compressed
sections, notes, symbol tables) under symbols, DWARF, lines and BTF."""

from crashpy.elf.errors import ElfError
from crashpy.elf.file import ElfFile, Section, Segment, peek_type
from crashpy.elf.sections import SectionBytes
from crashpy.elf.symtab import ElfSymbol, ElfSymtab, SymbolRow, tail_merge_key

__all__ = [
    "ElfError",
    "ElfFile",
    "ElfSymbol",
    "ElfSymtab",
    "Section",
    "SectionBytes",
    "Segment",
    "SymbolRow",
    "peek_type",
    "tail_merge_key",
]
