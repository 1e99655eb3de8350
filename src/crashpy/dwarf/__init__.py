"""crashpy.dwarf layer (see docs/architecture.md): the one DWARF core (units, abbreviations, forms,
.debug_aranges, line programs) under types and source lines, read lazily from an elf.ElfFile."""
