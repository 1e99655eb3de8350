"""Abbreviation tables (DWARF 5, 7.5.3): each code's tag, whether its DIEs have children, its
(attribute, form, implicit constant)s, and a plan for skipping a DIE's attributes without decoding them."""

from __future__ import annotations

from crashpy.dwarf.constants import AT_SIBLING, FORM_IMPLICIT_CONST
from crashpy.dwarf.errors import DwarfFormatError
from crashpy.dwarf.forms import VARIABLE_SKIPS, read_sleb, read_uleb


class Abbrev:
    """One abbreviation: a DIE's tag, whether it has children, its (attribute, form, implicit value)s,
    and a plan for skipping its attributes."""

    __slots__ = ("tag", "children", "attrs", "fixed_size", "skip", "sibling_at", "code")

    def __init__(
        self, tag: int, children: bool, attrs: tuple[tuple[int, int, int], ...], code: int = 0
    ) -> None:
        self.code = code
        self.tag = tag
        self.children = children
        self.attrs = attrs
        self.fixed_size: int | None = None
        self.skip: tuple[int, ...] = ()
        self.sibling_at: tuple[int, int] | None = None  # (byte offset into the attributes, form)

    def plan(self, sizes: dict[int, int]) -> None:
        """Precompute how to skip the attributes with the unit's fixed form sizes."""
        skip: list[int] = []
        fixed = 0
        known = True
        for at, form, _c in self.attrs:
            size = sizes.get(form)
            if size is not None:
                if at == AT_SIBLING and known and self.sibling_at is None:
                    self.sibling_at = (fixed, form)
                fixed += size
                continue
            known = False
            if fixed:
                skip.append(fixed)
                fixed = 0
            step = VARIABLE_SKIPS.get(form)
            if step is None:
                raise DwarfFormatError(f"unknown DWARF form {form:#x}")
            skip.append(step)
        if fixed:
            skip.append(fixed)
        self.skip = tuple(skip)
        if known:
            self.fixed_size = fixed


RawAbbrev = tuple[int, bool, tuple[tuple[int, int, int], ...]]


class AbbrevTable:
    """A unit's abbreviations: parsed from .debug_abbrev as tuples, made into Abbrevs (with their
    skipping plans) on first use of each code."""

    __slots__ = ("raw", "sizes", "made")

    def __init__(self, raw: dict[int, RawAbbrev], sizes: dict[int, int]) -> None:
        self.raw = raw
        self.sizes = sizes
        self.made: dict[int, Abbrev] = {}

    def get(self, code: int) -> Abbrev | None:
        ab = self.made.get(code)
        if ab is None:
            r = self.raw.get(code)
            if r is None:
                return None
            ab = Abbrev(*r, code=code)
            ab.plan(self.sizes)
            self.made[code] = ab
        return ab

    def __getitem__(self, code: int) -> Abbrev:
        ab = self.get(code)
        if ab is None:
            raise DwarfFormatError(f".debug_info: unknown abbreviation code {code}")
        return ab


def parse_abbrev_table(data: bytes) -> dict[int, tuple[int, bool, tuple[tuple[int, int, int], ...]]]:
    """code -> (tag, has children, ((attribute, form, implicit const), ...)); IndexError if cut short."""
    table: dict[int, tuple[int, bool, tuple[tuple[int, int, int], ...]]] = {}
    p = 0
    while True:
        code = data[p]
        if code < 0x80:
            p += 1
        else:
            code, p = read_uleb(data, p)
        if code == 0:
            return table
        tag = data[p]
        if tag < 0x80:
            p += 1
        else:
            tag, p = read_uleb(data, p)
        children = data[p] != 0
        p += 1
        attrs: list[tuple[int, int, int]] = []
        while True:
            at = data[p]
            if at < 0x80:
                p += 1
            else:
                at, p = read_uleb(data, p)
            form = data[p]
            if form < 0x80:
                p += 1
            else:
                form, p = read_uleb(data, p)
            if at == 0 and form == 0:
                break
            implicit = 0
            if form == FORM_IMPLICIT_CONST:
                implicit, p = read_sleb(data, p)
            attrs.append((at, form, implicit))
        table[code] = (tag, children, tuple(attrs))
