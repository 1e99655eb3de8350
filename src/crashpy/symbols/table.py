"""The symbol index: names and addresses from vmlinux (and later modules, kallsyms), bisect for address lookups."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from crashpy.symbols.elfsyms import ElfImage

_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 0x1, 0x2, 0x4
_SHT_NOBITS = 8
_STB_GLOBAL, _STB_WEAK = 1, 2
_STT_OBJECT, _STT_FUNC, _STT_SECTION, _STT_FILE = 1, 2, 3, 4
_SHN_ABS = 0xFFF1


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    type: str  # nm's letter, as crash prints it: T t D d B b R r A W V ...
    size: int = 0
    module: str | None = None


def _nm_letter(info: int, shndx: int, image: ElfImage) -> str:
    """The nm/BFD symbol class letter of an ELF symbol."""
    bind, typ = info >> 4, info & 0xF
    if shndx == _SHN_ABS:
        letter = "a"
    elif shndx == 0 or shndx >= len(image.sections):
        letter = "u"
    else:
        sec = image.sections[shndx]
        if sec.flags & _SHF_EXECINSTR:
            letter = "t"
        elif sec.type == _SHT_NOBITS:
            letter = "b"
        elif sec.flags & _SHF_WRITE:
            letter = "d"
        elif sec.flags & _SHF_ALLOC:
            letter = "r"
        else:
            letter = "n"
    if bind == _STB_WEAK:
        return "V" if typ == _STT_OBJECT else "W"
    return letter.upper() if bind == _STB_GLOBAL else letter


class SymbolTable:
    """Every symbol crashpy knows, sorted by address; name look-ups through a dict."""

    def __init__(self) -> None:
        self._symbols: list[Symbol] = []
        self._addrs: list[int] = []
        self._by_name: dict[str, Symbol] = {}
        self._sorted = True

    def __len__(self) -> int:
        return len(self._symbols)

    def add_vmlinux(self, image: ElfImage, offset: int = 0) -> None:
        """Add vmlinux's .symtab, relocated by the KASLR `offset` (per-cpu and absolute symbols stay put)."""
        entries, strtab = image.symbols()
        sections = image.sections
        percpu = image.section(".data..percpu")
        percpu_idx = sections.index(percpu) if percpu is not None else -1
        out = self._symbols
        by_name = self._by_name
        for st_name, info, _other, shndx, value, size in entries:
            typ = info & 0xF
            if typ in (_STT_SECTION, _STT_FILE) or st_name == 0 or shndx == 0:
                continue
            end = strtab.find(b"\0", st_name)
            name = strtab[st_name:end].decode("ascii", "replace")
            letter = _nm_letter(info, shndx, image)
            addr = value
            if shndx != _SHN_ABS and shndx != percpu_idx and value >= 0xFFFF800000000000:
                addr = (value + offset) & 0xFFFFFFFFFFFFFFFF
            sym = Symbol(name, addr, letter, size)
            out.append(sym)
            prev = by_name.get(name)
            if prev is None or (prev.type.islower() and letter.isupper()):
                by_name[name] = sym
        self._sorted = False

    def add(self, sym: Symbol) -> None:
        self._symbols.append(sym)
        self._by_name.setdefault(sym.name, sym)
        self._sorted = False

    def _sort(self) -> None:
        if not self._sorted:
            self._symbols.sort(key=lambda s: s.address)
            self._addrs = [s.address for s in self._symbols]
            self._sorted = True

    def lookup(self, name: str) -> Symbol | None:
        """The symbol called `name` (a global one in preference to a local)."""
        return self._by_name.get(name)

    def all(self) -> list[Symbol]:
        """Every symbol in address order."""
        self._sort()
        return self._symbols

    def containing(self, addr: int) -> tuple[Symbol, int] | None:
        """The nearest symbol at or below `addr`, and the offset of `addr` from it."""
        self._sort()
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        # Several symbols can share an address: prefer the last global/text one crash would show.
        sym = self._symbols[i]
        return sym, addr - sym.address

    def at(self, addr: int) -> list[Symbol]:
        """All symbols whose address is exactly `addr`."""
        self._sort()
        lo = bisect.bisect_left(self._addrs, addr)
        hi = bisect.bisect_right(self._addrs, addr)
        return self._symbols[lo:hi]

    def index_of(self, sym: Symbol) -> int:
        self._sort()
        i = bisect.bisect_left(self._addrs, sym.address)
        while i < len(self._symbols) and self._symbols[i] is not sym:
            i += 1
        return i

    def names_with_prefix(self, prefix: str) -> list[str]:
        return sorted(n for n in self._by_name if n.startswith(prefix))
