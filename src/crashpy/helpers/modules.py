"""The loaded kernel modules and their symbols, read from the dump's memory the way crash does at start-up.

crash walks the `modules` list (kernel.c module_init), and for each `struct module` keeps a load_module:
its name, the base and size of its core layout (mod->core_layout, init_layout on 5.x/6.x before 6.4),
its per-cpu area; then it builds one table of module symbols (symbols.c store_module_symbols_v2): per
module a `_MODULE_START_<name>` pseudo symbol at the core base (and `_MODULE_INIT_START_<name>` when
the init layout is still there), the exported symbols (mod->syms, mod->gpl_syms, type '?'), the
module's kallsyms (mod->core_kallsyms: an Elf64_Sym array whose st_info crash shows as a letter when
printable, 't'/'T' for local/global functions and '?' otherwise; store_module_kallsyms_v2 and
Elf64_Sym_to_common), and `_MODULE_END_<name>` at base + size.  The table is sorted by value (the
start pseudo symbol first at an equal value) and the modules by base.

`value_search` is crash's value_search_module(); crash hands gdb the same look-up for addresses gdb
has no minimal symbol for (gdb_lookup_module_symbol, patched into build_address_symbolic), so both
crash's `symbol+offset` and gdb's `<symbol+offset>` name module addresses with it.  The table is
built once per Program (it belongs to the dump, not to vmlinux), via `module_symtab(prog)`.

Linux 6.4's mod->mem[] layout (store_module_symbols_6_4) is not read: such kernels get no modules.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers.list import list_for_each_entry
from crashpy.object import Object, has_member

if TYPE_CHECKING:
    from crashpy.program import Program

MAX_MODULES = 4096
_START = "_MODULE_START_"
_END = "_MODULE_END_"
_INIT_START = "_MODULE_INIT_START_"
_INIT_END = "_MODULE_INIT_END_"
_PSEUDO = "_MODULE_"


@dataclass
class LoadedModule:
    """crash's struct load_module, as far as symbol look-ups need it."""

    name: str
    struct_addr: int  # the struct module
    base: int  # core layout
    size: int
    text_size: int
    init_base: int
    init_size: int
    percpu: int
    percpu_size: int
    sym_start: int = 0  # index of _MODULE_START_ in the sorted table
    sym_end: int = 0  # index of _MODULE_END_
    init_sym_start: int | None = None
    init_sym_end: int | None = None

    def in_core(self, value: int) -> bool:
        return self.base <= value < self.base + self.size

    def in_init(self, value: int) -> bool:
        return self.init_base <= value < self.init_base + self.init_size

    def in_percpu(self, value: int) -> bool:
        return self.percpu <= value < self.percpu + self.percpu_size

    def in_text(self, value: int) -> bool:
        """is_kernel_text() for a module without loaded debuginfo: core text by mod_etext_guess."""
        if self.in_core(value):
            return self.base <= value < self.base + self.text_size
        if self.in_init(value):
            return self.init_base <= value < self.init_base + self.init_size
        return False


@dataclass(frozen=True)
class ModuleSymbol:
    name: str
    value: int
    type: str
    module: int  # index into ModuleSymtab.modules (by base)

    @property
    def pseudo(self) -> bool:
        return self.name.startswith(_PSEUDO)


def _modules_on_list(head: Object) -> Iterator[Object]:
    """The struct module *s on the `modules` list (head: struct list_head), up to a loop or the
    MAX_MODULES-th (crash keeps the modules before that)."""
    try:
        yield from list_for_each_entry("struct module", head, "list", limit=MAX_MODULES)
    except CommandError:
        return


def _strip_symbol_end(name: str) -> str:
    for ending in (".isra.", ".part.", ".llvm."):
        p = name.find(ending)
        if p >= 0:
            return name[:p]
    return name


def _strip_module_symbol_end(name: str, smp: bool = True) -> str:
    """strip_module_symbol_end(): the `_R<hex>` (or `_Rsmp_`) clutter of old exported symbols."""
    r = name.rfind("R")
    if r < 1 or name[r - 1] != "_":
        return name
    if smp and name[r - 1 :].startswith("_Rsmp_"):
        return name[: r - 1]
    tail = name[r + 1 :]
    if tail and all(c in "0123456789abcdefABCDEF" for c in tail):
        return name[: r - 1]
    return name


def _letter(st_info: int) -> str:
    if 0x20 <= st_info < 0x7F:
        return chr(st_info)
    if st_info == 0x02:
        return "t"
    if st_info == 0x12:
        return "T"
    return "?"


class ModuleSymtab:
    """crash's load_modules array and ext_module_symtable."""

    def __init__(self, prog: Program | None) -> None:
        self.modules: list[LoadedModule] = []
        self.symbols: list[ModuleSymbol] = []
        self.values: list[int] = []
        self._by_name: dict[str, list[int]] = {}
        try:
            if prog is not None:
                self._read(prog)
        except CrashpyError:  # an unreadable module list: crash goes on without modules
            self.modules, self.symbols = [], []
        self.values = [s.value for s in self.symbols]
        for i, s in enumerate(self.symbols):
            self._by_name.setdefault(s.name, []).append(i)

    # ---- reading -------------------------------------------------------------------------------------

    def _read(self, prog: Program) -> None:
        # v6.4 (commit ac3b43283923) moved the layouts into mod->mem[]: not read (see the docstring).
        if not prog.has_symbol("modules") or has_member(prog, "struct module", "mem"):
            return
        # v4.5 (commit 7523e4dc5057): module_core/core_size/... became core_layout and init_layout.
        layouts = has_member(prog, "struct module", "core_layout")
        # v4.5 (commit 8244062ef1e5): the module's own kallsyms moved into mod->core_kallsyms.
        core_kallsyms = has_member(prog, "struct module", "core_kallsyms")
        has_percpu = has_member(prog, "struct module", "percpu")
        # The export tables are parsed in bulk, at their entries' offsets (a struct kernel_symbol holds
        # 32-bit offsets to its name and value since v4.19, CONFIG_HAVE_ARCH_PREL32_RELOCATIONS).
        ksym_size = prog.sizeof("kernel_symbol")
        relative = has_member(prog, "struct kernel_symbol", "name_offset")
        o_kname = prog.offsetof("kernel_symbol", "name_offset" if relative else "name")
        o_kvalue = prog.offsetof("kernel_symbol", "value_offset" if relative else "value")

        def u64(buf: bytes, o: int) -> int:
            return int(struct.unpack_from("<Q", buf, o)[0])

        head = Object(prog, "struct list_head", prog.symbol_address("modules"))
        entries: list[tuple[str, int, str, int]] = []  # name, value, type, module number (read order)
        for entry in _modules_on_list(head):
            mod = entry.deref_().read_()  # struct module, read as one block
            name = mod.name.string_().decode("latin-1")
            if layouts:
                core, init = mod.core_layout, mod.init_layout
                base, size, text_size = int(core.base), int(core.size), int(core.text_size)
                init_base, init_size = int(init.base), int(init.size)
            else:
                base, size, text_size = int(mod.module_core), int(mod.core_size), int(mod.core_text_size)
                init_base, init_size = int(mod.module_init), int(mod.init_size)
            kallsyms = mod.core_kallsyms if core_kallsyms else mod
            lm = LoadedModule(
                name=name,
                struct_addr=mod.address_ or 0,
                base=base,
                size=size,
                text_size=text_size,
                init_base=init_base,
                init_size=init_size,
                percpu=int(mod.percpu) if has_percpu else 0,
                percpu_size=int(mod.percpu_size) if has_percpu else 0,
            )
            k = len(self.modules)
            self.modules.append(lm)
            mine: list[tuple[str, int, str, int]] = [(_START + name, lm.base, "m", k)]
            lm_first = 0
            if lm.init_size > 0:
                mine.append((_INIT_START + name, lm.init_base, "m", k))
                lm_first = 1
            for exported, (syms, nsyms) in enumerate(
                ((int(mod.syms), int(mod.num_syms)), (int(mod.gpl_syms), int(mod.num_gpl_syms)))
            ):
                if not nsyms or (exported == 0 and not lm.in_core(syms)):
                    continue
                table = prog.read(syms, nsyms * ksym_size)
                for i in range(nsyms):
                    at = syms + i * ksym_size
                    if relative:
                        nm = at + o_kname + struct.unpack_from("<i", table, i * ksym_size + o_kname)[0]
                        val = at + o_kvalue + struct.unpack_from("<i", table, i * ksym_size + o_kvalue)[0]
                    else:
                        nm = u64(table, i * ksym_size + o_kname)
                        val = u64(table, i * ksym_size + o_kvalue)
                    try:
                        text = prog.read_cstring(nm & 0xFFFFFFFFFFFFFFFF, 511).decode("latin-1")
                    except CrashpyError:
                        continue
                    if text:
                        text = _strip_symbol_end(_strip_module_symbol_end(text))
                        mine.append((text, val & 0xFFFFFFFFFFFFFFFF, "?", k))
            curr = len(mine)
            self._kallsyms(
                prog,
                lm,
                int(kallsyms.symtab),
                int(kallsyms.num_symtab),
                int(kallsyms.strtab),
                mine,
                lm_first,
                curr,
                k,
            )
            mine.append((_END + name, lm.base + lm.size, "m", k))
            if lm.init_size > 0:
                mine.append((_INIT_END + name, lm.init_base + lm.init_size, "m", k))
            entries.extend(mine)
        # qsort(compare_syms): by value, a module's start pseudo symbol first at its value.
        entries.sort(key=lambda e: (e[1], 0 if e[0].startswith(_START) else 1))
        order = sorted(range(len(self.modules)), key=lambda m: self.modules[m].base)
        renumber = {old: new for new, old in enumerate(order)}
        self.modules = [self.modules[m] for m in order]
        self.symbols = [ModuleSymbol(n, v, t, renumber[m]) for n, v, t, m in entries]
        for i, s in enumerate(self.symbols):
            lm = self.modules[s.module]
            if s.name == _START + lm.name:
                lm.sym_start = i
            elif s.name == _END + lm.name:
                lm.sym_end = i
            elif s.name == _INIT_START + lm.name:
                lm.init_sym_start = i
            elif s.name == _INIT_END + lm.name:
                lm.init_sym_end = i

    def _kallsyms(
        self,
        prog: Program,
        lm: LoadedModule,
        symtab: int,
        nsyms: int,
        strtab: int,
        mine: list[tuple[str, int, str, int]],
        first: int,
        curr: int,
        k: int,
    ) -> None:
        """store_module_kallsyms_v2(): the module's Elf64_Sym array, in memory."""

        def inside(v: int) -> bool:
            return lm.in_core(v) or lm.in_init(v)

        if not nsyms or not inside(symtab) or not inside(strtab):
            return
        try:
            syms = prog.read(symtab, nsyms * 24)
        except CrashpyError:
            return
        if lm.in_core(strtab):
            str_end = lm.base + lm.size
        else:
            str_end = lm.init_base + lm.init_size
        try:
            strings = prog.read(strtab, str_end - strtab)
        except CrashpyError:
            return
        for i in range(1, nsyms):
            st_name, st_info, _other, st_shndx, st_value, _size = struct.unpack_from("<IBBHQQ", syms, i * 24)
            if not inside(st_value) or st_shndx == 0:
                continue
            if not inside(strtab + st_name) or st_name >= len(strings):
                continue
            end = strings.find(b"\0", st_name)
            name = strings[st_name : end if end >= 0 else len(strings)].decode("latin-1")
            if not name:
                continue
            name = _strip_symbol_end(name)
            letter = _letter(st_info)
            dup = False
            for j in range(first, curr):
                n, v, t, m = mine[j]
                if v == st_value and n == name:
                    if t == "?":
                        mine[j] = (n, v, letter, m)
                    dup = True
                    break
            if not dup:
                mine.append((name, st_value, letter, k))

    def retype(self, module: str, letters: list[tuple[str, str]] | None) -> None:
        """A module's object file was loaded (mod -s): each of its symbols gives its nm letter to the
        first symbol of that name of the module not given one yet (crash's kallsyms_module_symbol
        match); None puts the letters read from the dump back (mod -d)."""
        k = next((i for i, lm in enumerate(self.modules) if lm.name == module), None)
        if k is None:
            return
        saved: dict[int, str] = self.__dict__.setdefault("_saved_types", {}).setdefault(k, {})
        for i, old in saved.items():
            s = self.symbols[i]
            self.symbols[i] = ModuleSymbol(s.name, s.value, old, s.module)
        saved.clear()
        if letters is None:
            return
        taken: set[int] = set()
        for name, letter in letters:
            hit = next(
                (j for j in self._by_name.get(name, []) if j not in taken and self.symbols[j].module == k),
                None,
            )
            if hit is None:
                continue
            taken.add(hit)
            s = self.symbols[hit]
            saved[hit] = s.type
            self.symbols[hit] = ModuleSymbol(s.name, s.value, letter, s.module)

    # ---- look-ups ------------------------------------------------------------------------------------

    def module_of(self, value: int) -> LoadedModule | None:
        """module_symbol(): the module whose core, init or per-cpu area holds `value`."""
        for lm in self.modules:
            if lm.in_core(value) or lm.in_init(value) or lm.in_percpu(value):
                return lm
        return None

    def value_search(self, value: int) -> tuple[int, int] | None:
        """value_search_module(): (index of the symbol, offset), or None."""
        syms = self.symbols
        search_init = any(lm.init_size > 0 for lm in self.modules)
        for phase in (False, True):
            if phase and not search_init:
                break
            for lm in self.modules:
                if phase:
                    if lm.init_sym_start is None or lm.init_sym_end is None:
                        continue
                    lo, hi = lm.init_sym_start, lm.init_sym_end
                else:
                    lo, hi = lm.sym_start, lm.sym_end
                if syms[lo].value > value:
                    break
                if syms[hi].value < value:
                    continue
                splast: int | None = None
                i = lo
                while i <= hi:
                    sp = syms[i]
                    if value == sp.value:
                        if sp.name.startswith((_END, _INIT_END)):
                            break
                        if sp.pseudo:
                            if i + 1 < len(syms) and syms[i + 1].pseudo:
                                i += 1
                                continue
                            if i + 1 < len(syms) and syms[i + 1].value == value:
                                i += 1
                        if syms[i].name.startswith(".") and i + 1 < len(syms) and syms[i + 1].value == value:
                            i += 1
                        return i, 0
                    if sp.value > value:
                        j = splast if splast is not None else i - 1
                        return j, value - syms[j].value
                    if not sp.pseudo:
                        splast = i
                    i += 1
        return None

    def by_name(self, name: str) -> list[int]:
        """Indexes of the (non-pseudo) symbols called `name`, in table order."""
        return self._by_name.get(name, [])

    def lowest_by_name(self, name: str) -> int | None:
        """symbol_search()'s module part: the lowest-valued symbol of that name."""
        hits = self._by_name.get(name)
        if not hits:
            return None
        return min(hits, key=lambda i: self.values[i])

    def nearest_below(self, value: int) -> int:
        return bisect.bisect_right(self.values, value) - 1


def module_symtab(prog: Program) -> ModuleSymtab:
    """The dump's module table, read once per Program."""
    return prog.cache("modules", lambda: ModuleSymtab(prog))  # type: ignore[no-any-return]
