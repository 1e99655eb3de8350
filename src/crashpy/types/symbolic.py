"""Symbolic addresses as gdb prints them after a pointer: ` <symbol+offset>` (printcmd.c:
print_address_symbolic, minsyms.c: lookup_minimal_symbol_by_pc_section) over vmlinux's minimal symbols.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.errors import CrashpyError

if TYPE_CHECKING:
    from crashpy.program import Program

_SHF_ALLOC = 0x2
_SHF_EXECINSTR = 0x4


@dataclass(frozen=True)
class _Section:
    start: int
    end: int
    code: bool
    index: int


class AddressSymbolizer:
    """Finds `<symbol+offset>` for an address the way gdb does with vmlinux's minimal symbols."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        secs: list[_Section] = []
        image = prog.image
        if image is not None:
            for i, s in enumerate(image.sections):
                if not s.flags & _SHF_ALLOC or s.size == 0 or s.addr < 0xFFFF800000000000:
                    continue
                start = (s.addr + prog.kaslr_offset) & MASK64
                secs.append(_Section(start, start + s.size, bool(s.flags & _SHF_EXECINSTR), i))
        else:
            secs = self._kallsyms_sections(prog)
        secs.sort(key=lambda s: s.start)
        self._sections = secs
        self._starts = [s.start for s in secs]
        self._cache: dict[int, tuple[str, int] | None] = {}

    @staticmethod
    def _kallsyms_sections(prog: Program) -> list[_Section]:
        """Without a vmlinux: the image's sections as the linker script's symbols bound them."""
        from crashpy.errors import CrashpyError
        from crashpy.symbols.crash_view import kernel_sections

        def address_of(name: str) -> int | None:
            sym = prog.symbols.lookup(name)
            return sym.address if sym is not None else None

        try:
            return [_Section(lo, hi, code, i) for i, _name, lo, hi, code in kernel_sections(address_of)]
        except CrashpyError:
            return []

    def section_of(self, addr: int) -> _Section | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._sections[i].end:
            return self._sections[i]
        return None

    def lookup(self, addr: int) -> tuple[str, int] | None:
        """(name, offset) gdb would print for `addr`, or None."""
        if addr in self._cache:
            return self._cache[addr]
        hit = self._lookup(addr)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[addr] = hit
        return hit

    def _candidates(self, pc: int) -> list[tuple[int, str, str, int]]:
        """Symbols at or below pc, nearest first; at one address in descending name order (gdb sorts equal
        addresses by name and looks at the last one first). At most a few hundred are returned."""
        table = self.prog.symbols
        pos = table.position(pc + 1) - 1
        out: list[tuple[int, str, str, int]] = []
        group: list[tuple[int, str, str, int]] = []
        while pos >= 0 and len(out) < 512:
            sym = table.by_position(pos)
            if sym is None:
                break
            if group and sym.address != group[0][0]:
                group.sort(key=lambda e: e[1].encode(), reverse=True)
                out.extend(group)
                group = []
                if len(out) >= 64:
                    break
            group.append((sym.address, sym.name, sym.type, sym.size))
            pos -= 1
        group.sort(key=lambda e: e[1].encode(), reverse=True)
        out.extend(group)
        return out

    def _lookup(self, pc: int) -> tuple[str, int] | None:
        if pc == 0 or not self._is_kvaddr(pc):
            return None
        sec = self.section_of(pc)
        if sec is None:
            return self._module_symbol(pc)
        cands = self._candidates(pc)
        best_zero: tuple[int, str, str, int] | None = None
        hi: tuple[int, str, str, int] | None = None
        for k, c in enumerate(cands):
            addr, _name, letter, size = c
            if letter in "aA":
                continue
            if self.section_of(addr) is not sec:
                continue
            if size == 0:
                if best_zero is None:
                    best_zero = c
                continue
            if k + 1 < len(cands):
                p = cands[k + 1]
                if size and pc >= addr + size and pc < p[0] + p[3]:
                    continue
            hi = c
            break
        if best_zero is not None and (hi is None or hi[3] == 0):
            hi = best_zero
        if hi is not None and hi[3] != 0 and pc >= hi[0] + hi[3]:
            hi = best_zero
        if hi is None:
            return None
        if hi[3] == 0 and not self.section_of(hi[0]).code:  # type: ignore[union-attr]
            return None
        return hi[1], pc - hi[0]

    def _module_symbol(self, pc: int) -> tuple[str, int] | None:
        """With no minimal symbol for `pc`, crash's gdb asks crash (gdb_lookup_module_symbol, patched
        into build_address_symbolic): value_search_module(), so `<__this_module+8>`."""
        from crashpy.symbols.crash_view import crash_symtab

        try:
            found = crash_symtab(self.prog).module_value_search(pc)
        except CrashpyError:  # no module list readable: no name
            return None
        if found is None:
            return None
        return found[0].name, found[1]

    def _is_kvaddr(self, addr: int) -> bool:
        return bool(self.prog.is_kvaddr(addr))

    def symbolic(self, addr: int) -> str:
        """" <name+off>" (with its leading space) or ""."""
        hit = self.lookup(addr & MASK64)
        if hit is None:
            return ""
        name, off = hit
        return f" <{name}+{off}>" if off else f" <{name}>"


def symbolizer(prog: Program) -> AddressSymbolizer:
    return prog.cache("gdb_symbolizer", lambda: AddressSymbolizer(prog))  # type: ignore[no-any-return]


__all__ = ["AddressSymbolizer", "symbolizer"]
