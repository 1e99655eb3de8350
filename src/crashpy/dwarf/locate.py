"""Finding the DIE that holds a given .debug_info offset, without reading the unit's DIEs one by one:
the searches by name and by address find bytes (a string offset, an address) in .debug_info, and these
tell which DIE and attribute, if any, they belong to."""

from __future__ import annotations

from crashpy.dwarf.abbrev import Abbrev
from crashpy.dwarf.errors import DwarfFormatError
from crashpy.dwarf.forms import read_uleb, uleb_bytes
from crashpy.dwarf.info import DwarfInfo, Unit

_LayoutKey = tuple[frozenset[int], int, int | None, int | None]


class NestedHit:
    """locate() found the position inside the subtree of a top-level DIE, not in its attributes."""

    __slots__ = ("die_offset",)

    def __init__(self, die_offset: int) -> None:
        self.die_offset = die_offset


class DieLocator:
    """Which top-level DIE holds a .debug_info offset, with per-unit caches of abbreviation layouts."""

    def __init__(self, dwarf: DwarfInfo) -> None:
        self.dwarf = dwarf
        self._layouts: dict[int, dict[_LayoutKey, list[tuple[bytes, int]] | None]] = {}

    def top_level_attr_positions(self, u: Unit, tags: frozenset[int], at: int) -> dict[int, int]:
        """{.debug_info offset of the value of attribute `at`: DIE offset} for the top-level DIEs of
        unit `u` that have one of `tags` and `at` (one pass over the unit's top level)."""
        dwarf = self.dwarf
        out: dict[int, int] = {}
        layouts: dict[int, int | None] = {}
        for off, ab in dwarf.top_level(u):
            if ab.tag not in tags:
                continue
            key = id(ab)
            if key not in layouts:
                layouts[key] = _fixed_offset_of(ab, at, u.sizes)
            before = layouts[key]
            if before is None:
                die = dwarf.die(off, u, resolve_strings=False)
                if at in die.positions:
                    out[die.positions[at]] = off
            elif before >= 0:
                out[off + len(uleb_bytes(ab.code)) + before] = off
        return out

    def may_hold_attr(
        self,
        offset: int,
        tags: frozenset[int],
        at: int,
        with_attr: int | None = None,
        without_attr: int | None = None,
    ) -> bool:
        """False when .debug_info offset `offset` cannot be the value of attribute `at` of a DIE with
        one of `tags` (and attribute `with_attr`, and not `without_attr`) in its unit: the few bytes
        before it are checked against the unit's abbreviations (the DIE's code, then fixed-size
        attributes), without reading the unit's DIEs."""
        u = self.dwarf.unit_at(offset)
        layouts = self._attr_layouts(u, tags, at, with_attr, without_attr)
        if layouts is None:
            return True
        info = self.dwarf.info
        for code_bytes, before in layouts:
            start = offset - before - len(code_bytes)
            if start >= u.first_die and info.read(start, len(code_bytes)) == code_bytes:
                return True
        return False

    def _attr_layouts(
        self, u: Unit, tags: frozenset[int], at: int, with_attr: int | None, without_attr: int | None
    ) -> list[tuple[bytes, int]] | None:
        """(the abbreviation code's ULEB bytes, bytes of attributes before `at`) for each abbreviation
        that may match; None if one may match with a variable-size attribute before `at`."""
        key = (tags, at, with_attr, without_attr)
        cache = self._layouts.setdefault(u.offset, {})
        if key in cache:
            return cache[key]
        out: list[tuple[bytes, int]] | None = []
        abbrevs = self.dwarf.abbrevs_of(u)
        for code, (tag, _children, attrs) in abbrevs.raw.items():
            if tag not in tags:
                continue
            names = {a for a, _f, _c in attrs}
            if at not in names or (with_attr is not None and with_attr not in names) or without_attr in names:
                continue
            before = 0
            for a, form, _c in attrs:
                if a == at:
                    assert out is not None
                    out.append((uleb_bytes(code), before))
                    break
                size = u.sizes.get(form)
                if size is None:
                    out = None
                    break
                before += size
            if out is None:
                break
        cache[key] = out
        return out

    def locate(self, offset: int) -> tuple[Unit, int] | NestedHit | None:
        """The top-level DIE (a child of its unit's root DIE) whose attributes hold .debug_info offset
        `offset`: (unit, DIE offset); a NestedHit when `offset` is deeper in a top-level DIE's subtree;
        None when it is in no DIE's attributes (a unit header, a root DIE's attributes)."""
        dwarf = self.dwarf
        u = dwarf.unit_at(offset)
        data = dwarf.unit_data(u)
        base = u.offset
        target = offset - base
        abbrevs = dwarf.abbrevs_of(u)
        p = u.first_die - base
        if target < p:
            return None
        code, p = read_uleb(data, p)
        root = abbrevs.get(code)
        if root is None:
            return None
        p = dwarf.skip_attrs(u, data, p, root)
        if target < p or not root.children:
            return None
        end = len(data)
        while p < end:
            start = p
            code = data[p]
            if code < 0x80:
                p += 1
            else:
                code, p = read_uleb(data, p)
            if code == 0:
                return None
            ab = abbrevs.get(code)
            if ab is None:
                raise DwarfFormatError(
                    f"{dwarf.path}: .debug_info: unknown abbreviation {code} at {base + start:#x}"
                )
            attrs_end = dwarf.skip_attrs(u, data, p, ab) if ab.fixed_size is None else p + ab.fixed_size
            if target < attrs_end:
                return (u, base + start) if target >= start else None
            if ab.children:
                sib = dwarf.sibling(u, data, p, ab)
                nxt = sib if sib is not None and sib > p else dwarf.skip_children(u, data, attrs_end)
                if target < nxt:
                    return NestedHit(base + start)
                p = nxt
            else:
                p = attrs_end
        return None


def _fixed_offset_of(ab: Abbrev, at: int, sizes: dict[int, int]) -> int | None:
    """Bytes of attributes before `at` in a DIE of abbreviation `ab`: -1 if it has no `at`, None if a
    variable-size attribute comes first."""
    before = 0
    for a, form, _c in ab.attrs:
        if a == at:
            return before
        size = sizes.get(form)
        if size is None:
            return None
        before += size
    return -1
