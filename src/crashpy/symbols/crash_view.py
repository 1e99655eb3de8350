"""crash's view of the kernel symbol table.

crash does not show vmlinux's .symtab as it is: it reads it through BFD (section and file symbols
included, `.isra.`/`.part.`/`.llvm.` name endings cut off), sorts it like `nm -n` (by address, then
by name), and keeps nothing below `_text` but the per-cpu symbols (x86_64_verify_symbol).  Its
address look-ups pick the last symbol of the address below for an address inside a symbol, and the
first symbol of an address for the address itself, unless a previous look-up left crash's value
hash pointing further into that address's symbols (symbols.c value_search, symval_hash_search).
`CrashSymtab` is that table; every command that prints `symbol+offset` the way crash does goes
through `crash_symtab(prog)`.  Building it walks all of .symtab (about 0.5 s for 117k symbols), so
the result is kept on disk, keyed by the vmlinux file and the KASLR offset.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import crashpy.diskcache as diskcache
from crashpy.bits import MASK64
from crashpy.progress import Progress

if TYPE_CHECKING:
    from crashpy.helpers.modules import ModuleSymtab
    from crashpy.program import Program

_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 0x1, 0x2, 0x4
_SHT_NOBITS = 8
_STB_LOCAL, _STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE = 0, 1, 2, 10
_STT_OBJECT, _STT_SECTION, _STT_FILE, _STT_GNU_IFUNC = 1, 3, 4, 10
_SHN_UNDEF, _SHN_ABS, _SHN_COMMON = 0, 0xFFF1, 0xFFF2
_STRIP_ENDINGS = (".isra.", ".part.", ".llvm.")
_SYMVAL_HASH = 512


@dataclass(frozen=True)
class CrashSymbol:
    """One entry of crash's kernel symbol table (syment): its display name, value and nm letter."""

    name: str
    value: int
    type: str
    index: int  # position in the table (module symbols follow the kernel's: see CrashSymtab.modules)
    module: str = ""  # the module's name, for a module symbol


def _strip_symbol_end(name: str) -> str:
    for ending in _STRIP_ENDINGS:
        p = name.find(ending)
        if p >= 0:
            return name[:p]
    return name


def section_letter(name: str, flags: int, sh_type: int) -> str:
    """BFD's letter for a symbol in a section (syms.c coff_section_type, decode_section_type)."""
    for prefix, letter in ((".drectve", "i"), (".edata", "e"), (".idata", "i"), (".pdata", "p")):
        if name.startswith(prefix):
            nxt = name[len(prefix) : len(prefix) + 1]
            if nxt == "" or nxt in ".$0123456789":
                return letter
    if flags & _SHF_EXECINSTR:
        return "t"
    has_contents = sh_type != _SHT_NOBITS
    if flags & _SHF_ALLOC and has_contents:  # SEC_DATA
        return "d" if flags & _SHF_WRITE else "r"
    if not has_contents:
        return "b"
    if name.startswith((".debug", ".gnu.linkonce.wi.", ".zdebug", ".line", ".stab")):
        return "N"
    if not flags & _SHF_WRITE:
        return "n"
    return "?"


# The kernel image's sections as its linker script marks them with symbols (kallsyms has them): the
# section list of a kernel opened without its vmlinux.  (name, start symbol, end symbol, executable)
KERNEL_SECTIONS = (
    (".text", "_text", "_etext", True),
    (".rodata", "__start_rodata", "__end_rodata", False),
    (".data", "_sdata", "_edata", False),
    (".init.text", "_sinittext", "_einittext", True),
    (".bss", "__bss_start", "__bss_stop", False),
)

def kernel_sections(address_of: Callable[[str], int | None]) -> list[tuple[int, str, int, int, bool]]:
    """(index in KERNEL_SECTIONS, name, start, end, executable) of each section whose bounding symbols
    `address_of` knows (at run-time addresses), for a kernel opened without its vmlinux."""
    found = []
    for idx, (name, first, last, code) in enumerate(KERNEL_SECTIONS):
        lo, hi = address_of(first), address_of(last)
        if lo is not None and hi is not None and lo < hi:
            found.append((idx, name, lo, hi, code))
    return found


# The letter of each section's own symbol (BFD's section symbols are local): x86_64's RO_DATA holds
# .data..ro_after_init, which makes .rodata a writable section.
SECTION_SYMBOL_LETTERS = {".text": "t", ".rodata": "d", ".data": "d", ".init.text": "t", ".bss": "b"}


def _percpu_letters(prog: Program) -> Callable[[str], str]:
    """The nm letter of a per-CPU variable, which kallsyms marks 'A': 'd' for a static one, 'D' for a
    global one, as the kernel's BTF records its linkage (VAR); 'D' when BTF does not know it."""
    from crashpy.errors import CrashpyError

    try:
        btf = prog.btf
    except CrashpyError:
        btf = None

    def letter(name: str) -> str:
        if btf is not None:
            v = btf.find(name, "var")
            if v is not None and getattr(v, "linkage", 1) == 0:
                return "d"
        return "D"

    return letter


_CACHE_VERSION = 2  # 2: the value hash saved too


def _cache_file(prog: Program) -> Path | None:
    if getattr(prog, "vmlinux_path", None):
        return vmlinux_cache_file(prog, "symtab", f"{_CACHE_VERSION}:{prog.kaslr_offset}")
    # without a vmlinux the table comes from the dump's kallsyms: kept beside them, per dump file
    kallsyms_file = getattr(prog, "_kallsyms_cache_file", None)
    if kallsyms_file is None or getattr(prog, "system_map", None):
        return None
    return diskcache.entry("nodebug", f"{_CACHE_VERSION}:{kallsyms_file()}", prefix="symtab-")


def vmlinux_cache_file(prog: Program, what: str, key: str = "") -> Path | None:
    """Where an answer built from the vmlinux file (`what`, with `key` for what else it depends on) is
    kept: keyed by the file's real path, size and modification time, in crashpy's disk cache
    (crashpy/diskcache.py)/<what>; None without a vmlinux."""
    path = getattr(prog, "vmlinux_path", None)
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return diskcache.entry(what, f"{key}:{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}")


class CrashSymtab:
    """crash's kernel symbol table, built from the vmlinux ELF the way crash's BFD reading does."""

    _SAVED = (
        "names", "values", "types", "first_ksymbol", "percpu_syms", "text_ranges", "sections", "value_buckets",
    )  # fmt: skip

    def __init__(self, prog: Program) -> None:
        self._val_hash: list[list[int]] | None = None
        self._val_last: list[int] = []
        self._prog = prog
        cache = _cache_file(prog)
        if cache is not None and self._load(cache):
            return
        self._build(prog)
        from_dump = getattr(prog, "image", None) is not None or getattr(prog, "kallsyms_source", "") == "dump"
        if cache is not None and self.names and from_dump:  # never a table a kernel image helped build
            self._save(cache)

    def _load(self, path: Path) -> bool:
        data = diskcache.load(path)
        if not isinstance(data, tuple) or len(data) != len(self._SAVED):
            return False
        for name, value in zip(self._SAVED, data, strict=True):
            setattr(self, name, value)
        self._forget_name_index()
        return True

    def _save(self, path: Path) -> None:
        diskcache.save(path, tuple(getattr(self, n) for n in self._SAVED))

    # A session's first few look-ups by name (bt's start-up makes about ten) scan the names at C speed;
    # after this many the name index is built (about 40 ms for a kernel's 117,000 names).
    _SCANS_BEFORE_INDEX = 16

    def _forget_name_index(self) -> None:
        """Forget the name indexes: they are built when look-ups by name need them (an address look-up,
        as ps makes for a sysrq dump's panic task, needs none)."""
        self._first_by_name: dict[str, int] | None = None
        self._name_counts: Counter[str] | None = None
        self._name_scans = 0

    def _first_index(self, name: str) -> int | None:
        """The index of the first kernel symbol called `name`, or None."""
        index = self._first_by_name
        if index is None:
            if self._name_scans < self._SCANS_BEFORE_INDEX:
                self._name_scans += 1
                try:
                    return self.names.index(name)
                except ValueError:
                    return None
            n = len(self.names)
            # Each name's first index: written from the end, so the first occurrence is written last.
            index = self._first_by_name = dict(zip(reversed(self.names), range(n - 1, -1, -1), strict=True))
        return index.get(name)

    def _count(self, name: str) -> int:
        """How many kernel symbols are called `name`."""
        if self._name_counts is None:
            self._name_counts = Counter(self.names)
        return self._name_counts[name]

    def _build(self, prog: Program) -> None:
        self.names: list[str] = []
        self.values: list[int] = []
        self.types: list[str] = []
        self.first_ksymbol = 0
        self.percpu_syms = False
        self.text_ranges: list[tuple[int, int]] = []
        self.sections: list[tuple[str, int, int]] = []  # BFD's sections: (name, vma, end), link-time
        self.value_buckets: list[list[int]] = []
        image = prog.image
        if image is None:
            self._build_kallsyms(prog)
            return
        sections = image.sections
        offset = prog.kaslr_offset
        for s in sections:
            if s.flags & _SHF_EXECINSTR:
                self.text_ranges.append((s.addr + offset, s.addr + s.size + offset))
        for k, s in enumerate(sections):
            # BFD has no sections for the symbol and string tables, nor for relocations of a section.
            if k == 0 or s.type in (2, 3) or (s.type in (4, 9) and s.flags & 0x40):
                continue
            self.sections.append((s.name, s.addr, s.addr + s.size))
        # KASLR relocates what lies between the start of .text and the end of the last section.
        first_start = last_end = 0
        for s in sections:
            if s.name == ".text":
                first_start = s.addr
            if first_start:
                last_end = max(last_end, s.addr + s.size)
        symtab = image.symtab
        entries, strtab = (symtab.rows(), symtab.strtab) if symtab is not None else ([], b"")
        rows: list[tuple[int, int, str, str]] = []  # (undefined-first key, value, raw name, letter)
        letters = [section_letter(s.name, s.flags, s.type) for s in sections]
        nsec = len(sections)
        progress = Progress("building the symbol index", len(entries))
        for count, (st_name, info, _other, shndx, value, _size) in enumerate(entries[1:]):
            if not count & 0x3FFF:
                progress.update(count)
            bind, typ = info >> 4, info & 0xF
            if st_name == 0 and typ == _STT_SECTION and shndx < nsec:
                name = sections[shndx].name
            else:
                end = strtab.find(b"\0", st_name)
                name = strtab[st_name:end].decode("latin-1")
            if shndx == _SHN_UNDEF:
                letter = ("v" if typ == _STT_OBJECT else "w") if bind == _STB_WEAK else "U"
                rows.append((0, value, name, letter))
                continue
            if shndx == _SHN_COMMON:
                letter = "C"
            elif typ == _STT_GNU_IFUNC:
                letter = "i"
            elif bind == _STB_WEAK:
                letter = "V" if typ == _STT_OBJECT else "W"
            elif bind == _STB_GNU_UNIQUE:
                letter = "u"
            elif bind not in (_STB_LOCAL, _STB_GLOBAL):
                letter = "?"
            else:
                if shndx == _SHN_ABS:
                    letter = "a"
                elif shndx < nsec:
                    letter = letters[shndx]
                else:
                    letter = "?"
                if bind == _STB_GLOBAL:
                    letter = letter.upper()
            rows.append((1, value, name, letter))
        rows.sort(key=lambda r: (r[0], r[1], r[2].encode("latin-1")))
        progress.close()
        self._keep(rows, offset, first_start, last_end)

    def _keep(self, rows: list[tuple[int, int, str, str]], offset: int, first_start: int, last_end: int) -> None:
        """crash's cut of the sorted symbols: nothing below _text but the per-cpu symbols (KASLR's
        `offset` added to what lies between `first_start` and `last_end`)."""
        ksyms_start = False
        for _und, value, raw, letter in rows:
            name = _strip_symbol_end(raw)
            if not name:
                continue
            if not ksyms_start:
                if name in ("_text", "_stext"):
                    ksyms_start = True
                    if not self.first_ksymbol:
                        self.first_ksymbol = value
                elif name == "__per_cpu_start":
                    self.percpu_syms = True
                elif not (
                    self.percpu_syms
                    and (name.startswith("per_cpu") or name == "__per_cpu_end" or letter in "VdD")
                ):
                    continue
            if offset and first_start <= value <= last_end:
                value = (value + offset) & MASK64
            self.names.append(name)
            self.values.append(value)
            self.types.append(letter)
        self._forget_name_index()
        self.value_buckets = self._bucket_values()

    def _build_kallsyms(self, prog: Program) -> None:
        """The table from the dump's kallsyms (no vmlinux): the same cut and order; kallsyms marks the
        per-CPU variables absolute ('A'), where the vmlinux has them in .data..percpu ('D')."""
        from crashpy.errors import CrashpyError

        try:
            ks = prog.kallsyms
        except CrashpyError:
            self._forget_name_index()
            return
        where = dict(zip(ks.names, ks.addresses, strict=True))
        lo, hi = where.get("__per_cpu_start"), where.get("__per_cpu_end")
        rows: list[tuple[int, int, str, str]] = []
        percpu_letter = _percpu_letters(prog)
        for name, value, letter in zip(ks.names, ks.addresses, ks.letters, strict=True):
            if letter == "A" and lo is not None and hi is not None and lo <= value <= hi:
                letter = percpu_letter(name)
            rows.append((1, value, name, letter))
        for name, start_sym, _end, _code in KERNEL_SECTIONS:
            if start_sym in where:  # BFD's section symbols, local to their section
                rows.append((1, where[start_sym], name, SECTION_SYMBOL_LETTERS[name]))
        rows.sort(key=lambda r: (r[1], r[2].encode("latin-1")))
        self._keep(rows, 0, 0, 0)
        for _idx, name, start, end, code in kernel_sections(where.get):
            if code:
                self.text_ranges.append((start, end))
            self.sections.append((name, (start - prog.kaslr_offset) & MASK64, (end - prog.kaslr_offset) & MASK64))
        self._forget_name_index()
        self.value_buckets = self._bucket_values()

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, idx: int) -> CrashSymbol:
        n = len(self.names)
        if idx >= n:
            mods = self.modules
            ms = mods.symbols[idx - n]
            return CrashSymbol(ms.name, ms.value, ms.type, idx, mods.modules[ms.module].name)
        return CrashSymbol(self.names[idx], self.values[idx], self.types[idx], idx)

    # ---- module symbols: read from the dump, kept per Program (never in the disk cache) ---------------

    @property
    def modules(self) -> ModuleSymtab:
        """crash's module symbol table (helpers.modules), read on first use."""
        from crashpy.helpers.modules import ModuleSymtab, module_symtab

        if not hasattr(self._prog, "cache"):  # a stand-in program (tests): no dump, no modules
            empty = getattr(self, "_no_modules", None)
            if empty is None:
                empty = self._no_modules = ModuleSymtab(None)
            return empty
        return module_symtab(self._prog)

    def _module_hit(self, k: int | None) -> CrashSymbol | None:
        return None if k is None else self[len(self.names) + k]

    def module_name_of(self, value: int) -> str | None:
        """module_symbol(): the name of the module whose memory holds `value`, or None."""
        lm = self.modules.module_of(value)
        return None if lm is None else lm.name

    def __iter__(self) -> Iterator[CrashSymbol]:
        for i in range(len(self.names)):
            yield self[i]

    def module_listing(self, module: str | None = None) -> Iterator[CrashSymbol | tuple[int, str, str]]:
        """symbol_dump(MODULE_SYMS): each loaded module's symbols (or the one called `module`'s), modules
        in address order, each symbol range in table order: its core symbols, then its init symbols.
        The start and end pseudo symbols come as (value, tag, module name), tag being "MODULE START",
        "MODULE END", "MODULE INIT START" or "MODULE INIT END"; the others as CrashSymbols."""
        mods = self.modules
        n = len(self.names)
        tags = {
            "_MODULE_START_": "MODULE START",
            "_MODULE_END_": "MODULE END",
            "_MODULE_INIT_START_": "MODULE INIT START",
            "_MODULE_INIT_END_": "MODULE INIT END",
        }
        for lm in mods.modules:
            if module is not None and lm.name != module:
                continue
            ranges = [(lm.sym_start, lm.sym_end)]
            if lm.init_sym_start is not None and lm.init_sym_end is not None:
                ranges.append((lm.init_sym_start, lm.init_sym_end))
            for lo, hi in ranges:
                for k in range(lo, hi + 1):
                    ms = mods.symbols[k]
                    tag = next((t for p, t in tags.items() if ms.name == p + lm.name), None)
                    if tag is not None:
                        yield (ms.value, tag, lm.name)
                    else:
                        yield self[n + k]

    # ---- by name -------------------------------------------------------------------------------------

    def search(self, name: str) -> CrashSymbol | None:
        """symbol_search(): the first symbol called `name` (the kernel's, else the lowest module one)."""
        idx = self._first_index(name)
        if idx is None:
            return self._module_hit(self.modules.lowest_by_name(name))
        return self[idx]

    def value_of(self, name: str) -> int | None:
        sym = self.search(name)
        return None if sym is None else sym.value

    def exists(self, name: str) -> bool:
        return self.search(name) is not None

    def name_count(self, name: str) -> int:
        return self._count(name) + len(self.modules.by_name(name))

    def search_next(self, name: str, after: CrashSymbol) -> CrashSymbol | None:
        n = len(self.names)
        for i in range(after.index + 1, n):
            if self.names[i] == name:
                return self[i]
        for k in self.modules.by_name(name):
            if n + k > after.index:
                return self[n + k]
        return None

    def query(self, substring: str) -> list[CrashSymbol]:
        """symbol_query(): every symbol whose name contains `substring`, in table order, then the
        modules' (each module's core symbols, then each one's init symbols; no start pseudo symbols)."""
        found = [self[i] for i, n in enumerate(self.names) if substring in n]
        n = len(self.names)
        mods = self.modules
        ranges = [(lm.sym_start, lm.sym_end) for lm in mods.modules]
        ranges += [
            (lm.init_sym_start, lm.init_sym_end)
            for lm in mods.modules
            if lm.init_sym_start is not None and lm.init_sym_end is not None
        ]
        for lo, hi in ranges:
            for k in range(lo, hi):
                ms = mods.symbols[k]
                if substring in ms.name and not ms.name.startswith(("_MODULE_START_", "_MODULE_INIT_START_")):
                    found.append(self[n + k])
        return found

    # ---- by value ------------------------------------------------------------------------------------

    def in_ksymbol_range(self, value: int) -> bool:
        if not self.values:
            return False
        if self.values[0] <= value <= self.values[-1]:
            return not (self.percpu_syms and value < self.first_ksymbol)
        return self.modules.module_of(value) is not None

    def _bucket_values(self) -> list[list[int]]:
        """crash's symval_hash: the indexes of the symbols of each bucket (page number % 512), ascending
        (built with the table and kept in its disk cache)."""
        buckets: list[list[int]] = [[] for _ in range(_SYMVAL_HASH)]
        for i, v in enumerate(self.values):
            buckets[(v >> 12) % _SYMVAL_HASH].append(i)
        return buckets

    def _build_value_hash(self) -> None:
        if len(self.value_buckets) != _SYMVAL_HASH:
            self.value_buckets = self._bucket_values()
        self._val_hash = self.value_buckets
        self._val_last = [0] * _SYMVAL_HASH

    def _symval_hash_search(self, value: int) -> int | None:
        """crash's symval_hash_search(): a symbol of `value`, else the highest below it in the same
        bucket, else None.  Like crash it remembers where each bucket's last search ended and starts
        there next time, so that of several symbols sharing an address, an exact look-up returns the
        last one once a look-up just above that address has been made (`sym jiffies_64+4`, then
        `sym <the address of jiffies>` says jiffies_64, not jiffies)."""
        if self._val_hash is None:
            self._build_value_hash()
            assert self._val_hash is not None
        index = (value >> 12) % _SYMVAL_HASH
        chain = self._val_hash[index]
        if not chain:
            return None
        values = self.values
        pos = self._val_last[index]
        if values[chain[pos]] > value:
            pos = 0
        low = None
        while pos < len(chain):
            v = values[chain[pos]]
            if v == value:
                self._val_last[index] = pos
                return chain[pos]
            if v > value:
                break
            low = pos
            pos += 1
        if low is None:
            return None
        self._val_last[index] = low
        return chain[low]

    def value_search(self, value: int) -> tuple[CrashSymbol, int] | None:
        """value_search(): the symbol for `value` and the offset into it, or None."""
        if not self.in_ksymbol_range(value):
            return None
        if not self.values[0] <= value <= self.values[-1]:
            return self.module_value_search(value)
        values = self.values
        hit = self._symval_hash_search(value)
        if hit is not None and values[hit] == value:
            i = hit
            names = self.names

            def same_next(k: int) -> bool:
                return k + 1 < len(values) and values[k + 1] == value

            if names[i].startswith(".text.") and same_next(i):
                i += 1
            if names[i].startswith(("SyS_", "compat_SyS_")) and same_next(i):
                i += 1
            if "_text_start" in names[i] and same_next(i):
                i += 1
            return self[i], 0
        # No symbol at `value`: the last one below it.
        i = bisect.bisect_right(values, value)
        if i == 0:
            return None
        return self[i - 1], value - values[i - 1]

    def module_value_search(self, value: int) -> tuple[CrashSymbol, int] | None:
        """value_search_module(): a module symbol for `value` and the offset into it, or None."""
        found = self.modules.value_search(value)
        if found is None:
            return None
        k, offset = found
        return self[len(self.names) + k], offset

    def value_to_symstr(self, value: int, radix: int = 10) -> str:
        """`name` or `name+offset` (offset in `radix`: 10 or 16), or "" when `value` is no symbol's."""
        found = self.value_search(value)
        if found is None:
            return ""
        sym, offset = found
        if not offset:
            return sym.name
        return f"{sym.name}+0x{offset:x}" if radix == 16 else f"{sym.name}+{offset}"

    def next_symbol(self, sym: CrashSymbol) -> CrashSymbol | None:
        """The first symbol after `sym` with a higher value."""
        n = len(self.names)
        if sym.index >= n:
            msyms = self.modules.symbols
            for k in range(sym.index - n + 1, len(msyms)):
                if msyms[k].value > sym.value and not msyms[k].pseudo:
                    return self[n + k]
            return None
        for i in range(sym.index + 1, len(self.values)):
            if self.values[i] > sym.value:
                return self[i]
        return None

    def prev_symbol(self, sym: CrashSymbol) -> CrashSymbol | None:
        n = len(self.names)
        if sym.index >= n:
            msyms = self.modules.symbols
            for k in range(sym.index - n - 1, -1, -1):
                if not msyms[k].pseudo:
                    return self[n + k]
            return None
        return self[sym.index - 1] if sym.index > 0 else None

    def section_of(self, value: int) -> str:
        """get_section(): the first section whose link-time range holds `value`, or ""."""
        mod = self.module_name_of(value)
        if mod is not None:
            return f"in {mod} module"
        for name, start, end in self.sections:
            if start <= value < end:
                return name
        return ""

    def is_kernel_text(self, value: int) -> bool:
        """Whether `value` lies in an executable section, or in a t/T symbol."""
        for start, end in self.text_ranges:
            if start <= value < end:
                return True
        found = self.value_search(value)
        if found is not None and found[0].type in "tT":
            return True
        return any(lm.in_text(value) for lm in self.modules.modules)


def crash_symtab(prog: Program) -> CrashSymtab:
    """crash's symbol table for `prog`, built once."""
    return prog.cache("crash.symtab", lambda: CrashSymtab(prog))  # type: ignore[no-any-return]


def symbol_lookup(prog: Program) -> Callable[[str], int | None]:
    """A name -> value function for helpers.numbers (crash's symbol_search)."""
    return crash_symtab(prog).value_of


