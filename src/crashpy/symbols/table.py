"""The symbol index: names and addresses from vmlinux or the dump's kallsyms (and extra symbols), bisect for address lookups.

vmlinux's .symtab stays in the ELF file's mapping: a name look-up finds the name in .strtab and the
entries that point there (elf.ElfSymtab, without unpacking the table); an address look-up uses an
address-sorted index of every entry, built on first use. A Symbol object is made only for the entries
a command asks about.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass

from crashpy.bits import MASK64
from crashpy.elf.file import ElfFile
from crashpy.elf.symtab import SymbolRow
from crashpy.symbols.kallsyms import Kallsyms

_STB_GLOBAL, _STB_WEAK = 1, 2
_STT_OBJECT, _STT_FUNC, _STT_SECTION, _STT_FILE = 1, 2, 3, 4
_SHN_ABS = 0xFFF1
_KERNEL_IMAGE_BASE = 0xFFFFFFFF80000000  # __START_KERNEL_map


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    type: str  # nm's letter, as crash prints it: T t D d B b R r A W V ...
    size: int = 0
    module: str | None = None


def _nm_letter(info: int, shndx: int, image: ElfFile) -> str:
    """The nm/BFD symbol class letter of an ELF symbol."""
    from crashpy.symbols.crash_view import section_letter

    bind, typ = info >> 4, info & 0xF
    if shndx == _SHN_ABS:
        letter = "a"
    elif shndx == 0 or shndx >= len(image.sections):
        letter = "u"
    else:
        sec = image.sections[shndx]
        letter = section_letter(sec.name, sec.flags, sec.type)
    if bind == _STB_WEAK:
        return "V" if typ == _STT_OBJECT else "W"
    return letter.upper() if bind == _STB_GLOBAL else letter


def _wanted(row: SymbolRow) -> bool:
    """A named, defined symbol that is not a section or file symbol."""
    st_name, info, _o, shndx, _v, _s = row
    return st_name != 0 and shndx != 0 and (info & 0xF) not in (_STT_SECTION, _STT_FILE)


class _ElfSymbols:
    """One ELF .symtab, relocated by `offset`, materialised lazily."""

    def __init__(self, image: ElfFile, offset: int, module: str | None = None) -> None:
        self.image = image
        self.symtab = image.symtab
        self.offset = offset
        self.module = module
        self._made: dict[int, Symbol] = {}

    def rows(self) -> list[SymbolRow]:
        """Every entry (unpacked on first use)."""
        return self.symtab.rows() if self.symtab is not None else []

    def entries(self) -> list[tuple[int, int]]:
        """(address, entry index) of every named, defined symbol."""
        return [(self.address(row[4]), i) for i, row in enumerate(self.rows()) if _wanted(row)]

    def address(self, value: int) -> int:
        """A symbol value relocated: KASLR moves the kernel image only (per-CPU offsets and small
        absolute values stay put)."""
        if value >= _KERNEL_IMAGE_BASE and self.offset:
            return (value + self.offset) & MASK64
        return value

    def symbol(self, i: int) -> Symbol:
        """Entry `i` as a Symbol (made once)."""
        sym = self._made.get(i)
        if sym is None:
            assert self.symtab is not None
            st_name, info, _o, shndx, value, size = self.symtab.entry(i)
            name = self.symtab.name_at(st_name)
            sym = Symbol(name, self.address(value), _nm_letter(info, shndx, self.image), size, self.module)
            self._made[i] = sym
        return sym

    def find(self, name: str) -> Symbol | None:
        """The symbol called `name`, a global one in preference to a local."""
        symtab = self.symtab
        if symtab is None or not name:
            return None
        offsets = symtab.string_offsets(name)
        found = symtab.indexes_at(offsets)
        best: Symbol | None = None
        for off in offsets:
            # Several entries may share one string (static symbols of one name in several files).
            for j in found.get(off, ()):
                if not _wanted(symtab.entry(j)):
                    continue
                sym = self.symbol(j)
                if best is None or (best.type.islower() and sym.type.isupper()):
                    best = sym
            if best is not None and best.type.isupper():
                return best
        return best


class _KallsymsSymbols:
    """The kernel's kallsyms (decoded from the dump): names, addresses and nm letters, no sizes."""

    def __init__(self, ks: Kallsyms) -> None:
        self.ks = ks
        self._made: dict[int, Symbol] = {}
        self._by_name: dict[str, list[int]] | None = None
        # kallsyms marks the per-CPU variables absolute ('A'); the vmlinux has them in .data..percpu
        self._percpu = (0, -1)
        try:
            names, addrs = ks.names, ks.addresses
            self._percpu = (addrs[names.index("__per_cpu_start")], addrs[names.index("__per_cpu_end")])
        except ValueError:
            pass

    def entries(self) -> list[tuple[int, int]]:
        return [(a, i) for i, a in enumerate(self.ks.addresses)]

    def symbol(self, i: int) -> Symbol:
        """Entry `i`; kallsyms records no sizes, so a symbol reaches to the next address above it."""
        sym = self._made.get(i)
        if sym is None:
            ks = self.ks
            addrs = ks.addresses
            addr = addrs[i]
            j = bisect.bisect_right(addrs, addr, i)
            size = addrs[j] - addr if j < len(addrs) else 0
            letter = ks.letters[i]
            if letter == "A" and self._percpu[0] <= addr <= self._percpu[1]:
                letter = "D"
            sym = self._made[i] = Symbol(ks.names[i], addr, letter, size)
        return sym

    def find(self, name: str) -> Symbol | None:
        """The symbol called `name`, a global one in preference to a local."""
        if self._by_name is None:
            self._by_name = self._name_index()
        best: Symbol | None = None
        for i in self._by_name.get(name, ()):
            sym = self.symbol(i)
            if best is None or (best.type.islower() and sym.type.isupper()):
                best = sym
        return best


    def _name_index(self) -> dict[str, list[int]]:
        """Each name's entries (built at C speed: only the names kallsyms holds twice take a loop)."""
        names = self.ks.names
        index = {n: [i] for i, n in zip(range(len(names)), names, strict=True)}
        if len(index) < len(names):
            twice = {n for n, c in Counter(names).items() if c > 1}
            for n in twice:
                index[n] = []
            for i, n in enumerate(names):
                if n in twice:
                    index[n].append(i)
        return index


class SymbolTable:
    """Every symbol crashpy knows; sorted by address on first address look-up."""

    def __init__(self) -> None:
        self._sources: list[_ElfSymbols | _KallsymsSymbols] = []
        self._extra: list[Symbol] = []
        self._extra_by_name: dict[str, Symbol] = {}
        self._addrs: list[int] | None = None
        self._order: list[tuple[int, int]] = []  # (source index or -1 for extra, entry index)
        self._memo: dict[str, Symbol | None] = {}

    def add_vmlinux(self, image: ElfFile, offset: int = 0) -> None:
        """Add vmlinux's .symtab, relocated by the KASLR `offset` (per-cpu and absolute symbols stay put)."""
        self._sources.append(_ElfSymbols(image, offset))
        self._addrs = None
        self._memo.clear()

    def add_kallsyms(self, ks: Kallsyms) -> None:
        """Add the kernel's kallsyms, read from the dump (no vmlinux): addresses are the running kernel's."""
        self._sources.append(_KallsymsSymbols(ks))
        self._addrs = None
        self._memo.clear()

    def add(self, sym: Symbol) -> None:
        self._extra.append(sym)
        self._extra_by_name.setdefault(sym.name, sym)
        self._addrs = None
        self._memo.clear()

    def __len__(self) -> int:
        self._index()
        return len(self._order)

    def lookup(self, name: str) -> Symbol | None:
        """The symbol called `name` (a global one in preference to a local); answers are remembered."""
        if name in self._memo:
            return self._memo[name]
        found: Symbol | None = None
        for src in self._sources:
            found = src.find(name)
            if found is not None:
                break
        if found is None:
            found = self._extra_by_name.get(name)
        self._memo[name] = found
        return found

    def _index(self) -> list[int]:
        if self._addrs is None:
            keyed: list[tuple[int, int, int]] = []
            for s, src in enumerate(self._sources):
                keyed.extend((a, s, i) for a, i in src.entries())
            for i, sym in enumerate(self._extra):
                keyed.append((sym.address, -1, i))
            keyed.sort()
            self._addrs = [k[0] for k in keyed]
            self._order = [(k[1], k[2]) for k in keyed]
        return self._addrs

    def _get(self, pos: int) -> Symbol:
        s, i = self._order[pos]
        return self._extra[i] if s < 0 else self._sources[s].symbol(i)

    def all(self) -> list[Symbol]:
        """Every symbol in address order."""
        self._index()
        return [self._get(p) for p in range(len(self._order))]

    def containing(self, addr: int) -> tuple[Symbol, int] | None:
        """The nearest symbol at or below `addr`, and the offset of `addr` from it."""
        addrs = self._index()
        i = bisect.bisect_right(addrs, addr) - 1
        if i < 0:
            return None
        sym = self._get(i)
        return sym, addr - sym.address

    def at(self, addr: int) -> list[Symbol]:
        """All symbols whose address is exactly `addr`."""
        addrs = self._index()
        lo = bisect.bisect_left(addrs, addr)
        hi = bisect.bisect_right(addrs, addr)
        return [self._get(p) for p in range(lo, hi)]

    def position(self, addr: int) -> int:
        """Index in address order of the first symbol at or above `addr` (for next/previous walks)."""
        return bisect.bisect_left(self._index(), addr)

    def by_position(self, pos: int) -> Symbol | None:
        self._index()
        return self._get(pos) if 0 <= pos < len(self._order) else None
