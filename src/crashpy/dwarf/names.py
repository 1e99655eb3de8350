"""DIEs of global variables, functions and named types, found through the bytes that must hold them
(never a walk of every DIE; see types/dwarf.py for the rules and why):

- a variable: its ELF symbol's address, searched in .debug_info as the `DW_OP_addr <address>` of a
  DW_AT_location; a variable whose symbol has no size (a linker-script symbol) by its declaration;
- a function: its symbol's address in .debug_aranges gives the unit, DW_AT_low_pc is searched there;
- a type (or a declaration): its name's offset in .debug_str searched as a DW_FORM_strp value (or the
  name itself for names GCC writes inline), each hit checked against the abbreviation code before it,
  then against one pass over its unit's top level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from crashpy.dwarf.constants import (
    AT_ABSTRACT_ORIGIN,
    AT_DECLARATION,
    AT_LOCATION,
    AT_LOW_PC,
    AT_NAME,
    AT_RANGES,
    AT_SPECIFICATION,
    FORM_BLOCK1,
    FORM_BLOCK2,
    FORM_BLOCK4,
    OP_ADDR,
    TAG_SUBPROGRAM,
    TAG_VARIABLE,
)
from crashpy.dwarf.errors import DWARF_READ_ERRORS
from crashpy.dwarf.info import Die, DwarfInfo
from crashpy.dwarf.locate import DieLocator
from crashpy.elf.constants import STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_TLS
from crashpy.elf.symtab import ElfSymbol, ElfSymtab, tail_merge_key

# A name ends dozens of longer strings in .debug_str (`count`: `refcount`, `page_count`, ...); each copy
# tried costs a search of all of .debug_info, so only the likeliest few are.
_STRING_COPIES_TRIED = 3
# Units whose top-level DIEs one search by name may read (a few ms each).
MAX_UNITS_WALKED = 256


class DieFinder:
    """Look-ups of DIE offsets by name in one file's DWARF, with the help of its symbol table."""

    def __init__(
        self, dwarf: DwarfInfo, symtab: ElfSymtab | None, section_address: Callable[[int], int] | None = None
    ) -> None:
        self.dwarf = dwarf
        self.symtab = symtab
        # A relocatable file's (a module's) symbol values count from their section, placed here.
        self.section_address = section_address
        self.locator = DieLocator(dwarf)
        first = dwarf.first_unit()
        self.offset_size = first.offset_size if first is not None else 4
        self.pointer_size = first.address_size if first is not None else 8
        self._str_candidates: dict[str, list[int]] = {}

    def symbols(self, name: str, types: tuple[int, ...]) -> list[ElfSymbol]:
        """The defined symbols called `name` of `types`, global and weak ones before local ones (the
        values placed where their sections are, for a relocatable file)."""
        if self.symtab is None:
            return []
        syms = [s for s in self.symtab.symbols_named(name) if s.type in types and s.shndx != 0]
        syms.sort(key=lambda s: s.bind == 0)
        place = self.section_address
        if place is not None:
            for s in syms:
                if 0 < s.shndx < 0xFF00:
                    s.value += place(s.shndx)
        return syms

    def find_variable(self, name: str, complete: Callable[[Die], bool]) -> int | None:
        """The DIE of variable `name`: a definition found by address (one whose type is `complete`
        preferred), else a declaration found by name."""
        syms = self.symbols(name, (STT_OBJECT, STT_NOTYPE, STT_TLS))
        by_name_tried = False
        if syms and all(s.size == 0 for s in syms) and any(s.bind != 0 or s.type == STT_OBJECT for s in syms):
            # No size: most likely no C definition (a linker-script symbol: `jiffies = jiffies_64;`,
            # `_text`), so a declaration is what there is (`extern char _text[];`); look for one first.
            # (A local one without a type is an assembler label: no C declares it.)
            found = self.find_by_name(name, frozenset({TAG_VARIABLE}), with_attr=AT_DECLARATION)
            if found is not None:
                return found
            by_name_tried = True
        seen: set[int] = set()
        for sym in syms:
            if sym.value in seen:
                continue
            seen.add(sym.value)
            found = self.find_variable_at(name, sym.value, complete)
            if found is not None:
                return found
        if not syms or by_name_tried:
            # No symbol: gdb knows no such global either (it skips statics without a location, and
            # those with one have a symbol), so no search of every unit for a common word.
            return None
        return self.find_by_name(name, frozenset({TAG_VARIABLE}), max_units=64)

    def find_variable_at(self, name: str, address: int, complete: Callable[[Die], bool]) -> int | None:
        """A variable DIE named `name` whose DW_AT_location is `DW_OP_addr address`: the first, unless
        its type is incomplete (`const char linux_banner[]`, defined through a declaration in one
        file) and a later one's is complete (the same array, defined with its initialiser in
        another file, as gdb shows it: `const char [204]`)."""
        needle = bytes([OP_ADDR]) + address.to_bytes(self.pointer_size, self.dwarf.byteorder)
        info = self.dwarf.info
        first: int | None = None
        hit = info.find(needle)
        while hit >= 0:
            die = self.die_with_attr(hit, AT_LOCATION, frozenset({TAG_VARIABLE}), exprloc=True)
            if (
                die is not None
                and die.get(AT_LOCATION, b"")[: len(needle)] == needle
                and self.variable_name(die) == name
            ):
                if complete(die):
                    return die.offset
                if first is None:
                    first = die.offset
            hit = info.find(needle, hit + 1)
        return first

    def die_with_attr(self, pos: int, at: int, tags: frozenset[int], exprloc: bool = False) -> Die | None:
        """The top-level DIE with one of `tags` whose attribute `at` has its value at .debug_info
        offset `pos` (one byte later for an expression, after its length), or None."""
        try:
            where = self.locator.locate(pos)
            if not isinstance(where, tuple):
                return None
            die = self.dwarf.die(where[1], where[0])
        except DWARF_READ_ERRORS:
            return None
        if die.tag not in tags:
            return None
        value_pos = die.positions.get(at)
        if value_pos is None:
            return None
        if exprloc:
            if not isinstance(die.attrs.get(at), bytes):
                return None
            length = len(die.attrs[at])
            header = {FORM_BLOCK1: 1, FORM_BLOCK2: 2, FORM_BLOCK4: 4}.get(die.forms[at])
            if header is None:  # DW_FORM_exprloc, DW_FORM_block: a ULEB128 length
                header = 1 if length < 0x80 else 2 if length < 0x4000 else 3
            return die if value_pos + header == pos else None
        return die if value_pos == pos else None

    def variable_name(self, die: Die) -> str | None:
        """The DIE's name, through DW_AT_specification / DW_AT_abstract_origin when it has none."""
        for _ in range(8):
            if die.name is not None:
                return die.name
            ref = die.get(AT_SPECIFICATION, die.get(AT_ABSTRACT_ORIGIN))
            if not isinstance(ref, int):
                return None
            die = self.dwarf.die(ref)
        return None

    def find_by_name(
        self,
        name: str,
        tags: frozenset[int],
        *,
        with_attr: int | None = None,
        without_attr: int | None = None,
        max_units: int = MAX_UNITS_WALKED,
    ) -> int | None:
        """The first top-level DIE with one of `tags` (and attribute `with_attr`, and not `without_attr`)
        called `name`, found through the name's bytes. A hit is checked against the bytes before it
        (its DIE's abbreviation code), then against one pass over its unit's top-level DIEs; at most
        `max_units` units are read so (a local variable `i` is in every other unit)."""
        dwarf = self.dwarf
        locator = self.locator
        walked: dict[int, dict[int, int]] = {}
        for pos in self.name_positions(name):
            try:
                u = dwarf.unit_at(pos)
                if not locator.may_hold_attr(pos, tags, AT_NAME, with_attr, without_attr):
                    continue
                names = walked.get(u.offset)
                if names is None:
                    if len(walked) >= max_units:
                        return None
                    names = walked[u.offset] = locator.top_level_attr_positions(u, tags, AT_NAME)
                off = names.get(pos)
                if off is None:
                    continue
                die = dwarf.die(off, u)
            except DWARF_READ_ERRORS:
                continue
            if die.name != name:
                continue
            if with_attr is not None and with_attr not in die.attrs:
                continue
            if without_attr is not None and without_attr in die.attrs:
                continue
            return die.offset
        return None

    def name_positions(self, name: str) -> Iterator[int]:
        """.debug_info offsets that may hold a DW_AT_name value `name`, likeliest first."""
        inline = name.encode() + b"\0"
        # The likeliest copies of the name in .debug_str (see string_offsets); a linker keeps one.
        strp = [
            s.to_bytes(self.offset_size, self.dwarf.byteorder)
            for s in self.string_offsets(name)[:_STRING_COPIES_TRIED]
        ]
        # GCC writes a name inline (DW_FORM_string) when it is no longer than an offset.
        needles = [inline, *strp] if len(inline) <= self.offset_size else [*strp, inline]
        info = self.dwarf.info
        for needle in needles:
            hit = info.find(needle)
            while hit >= 0:
                yield hit
                hit = info.find(needle, hit + 1)

    def string_offsets(self, name: str) -> list[int]:
        """The offsets in .debug_str where `name` ends a string, the one GNU ld's suffix merging
        chooses first: the name itself, then the containing string that sorts first by reversed bytes."""
        cached = self._str_candidates.get(name)
        if cached is not None:
            return cached
        sec = self.dwarf.source.section_bytes(".debug_str")
        out: list[tuple[bytes, int]] = []
        if sec is not None:
            wanted = name.encode() + b"\0"
            p = sec.find(wanted)
            while p >= 0:
                out.append((tail_merge_key(sec, p, len(wanted) - 1), p))
                p = sec.find(wanted, p + 1)
        out.sort()
        result = [p for _k, p in out]
        self._str_candidates[name] = result
        return result

    def find_function(self, name: str) -> int | None:
        """The subprogram DIE of `name`, in the unit .debug_aranges gives for its symbol's address: the
        DIE whose DW_AT_low_pc is that address, else one of that name with code elsewhere (a function
        split into DW_AT_ranges). A function without a symbol (only ever inlined, only declared, a
        macro) is none: gdb has no symbol for it either."""
        dwarf = self.dwarf
        for sym in self.symbols(name, (STT_FUNC,)):
            u = dwarf.unit_for_address(sym.value)
            if u is None:
                continue
            needle = sym.value.to_bytes(u.address_size, dwarf.byteorder)
            data = dwarf.unit_data(u)
            hit = data.find(needle)
            while hit >= 0:
                die = self.die_with_attr(u.offset + hit, AT_LOW_PC, frozenset({TAG_SUBPROGRAM}))
                if die is not None and self.variable_name(die) == name:
                    return die.offset
                hit = data.find(needle, hit + 1)
            for off, ab in dwarf.top_level(u):
                if ab.tag != TAG_SUBPROGRAM:
                    continue
                die = dwarf.die(off, u)
                if (
                    not die.get(AT_DECLARATION)
                    and (AT_LOW_PC in die.attrs or AT_RANGES in die.attrs)
                    and self.variable_name(die) == name
                ):
                    return off
        return None

    def find_named_type(self, name: str, tags: frozenset[int]) -> int | None:
        """A definition of the type, else a declaration of it."""
        found = self.find_by_name(name, tags, without_attr=AT_DECLARATION)
        if found is None:
            found = self.find_by_name(name, tags, with_attr=AT_DECLARATION)
        return found
