"""The loaded modules' BTF, read from the dump's memory: the types only a module defines, for the
look-ups that the kernel's own types (its BTF and DWARF) and the modules' DWARF (mod -s) miss.

With CONFIG_DEBUG_INFO_BTF_MODULES every module carries split BTF (its .BTF section: type ids and
string offsets go on from vmlinux's). The loader frees that section once the module's init has run
(do_init_module sets mod->btf_data to NULL; mod->btf_data_size stays), but kernel/bpf/btf.c keeps
its own copy: when the module comes (MODULE_STATE_COMING) btf_module_notify parses the bytes into a
`struct btf` (data, data_size, start_id, start_str_off) and links a `struct btf_module` (list,
module, btf) on its static list `btf_modules`. Those copies are read here; a module whose
mod->btf_data is still set and that is not on the list yet is read from mod->btf_data.

Nothing is read before the first look-up that misses in the kernel's types; then every loaded
module's BTF is read once (ModuleBTFs, one per Program: Program.module_btf). A module without BTF,
or whose BTF cannot be read, does not decode or was built on another vmlinux's BTF, is skipped and
its reason kept (ModuleBTF.problem); nothing here raises to the user.

The kernel's types come first and are never shadowed: a module's BTF is asked only for a name the
kernel does not define. Between modules, the first on the `modules` list (the last loaded) wins.
BTF of 6.1's modules has no VAR records but the per-CPU ones: module variables are not read here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError
from crashpy.object import Object, has_member
from crashpy.types.btf import BTF
from crashpy.types.model import Type, TypeLookupError

if TYPE_CHECKING:
    from crashpy.program import Program

MAX_MODULES = 4096
MAX_BTF_SIZE = 64 << 20
"""A module's BTF larger than this is taken for a corrupt size."""

# What reading or decoding one module's BTF may raise besides the project's errors (corrupt records
# met while materialising a type: a bad index, a bad struct layout, a loop).
_DECODE_PROBLEMS: tuple[type[Exception], ...] = (CrashpyError, IndexError, ValueError, RecursionError)


@dataclass
class ModuleBTF:
    """One loaded module's BTF: `btf` when it was read and decoded, else None and `problem` says why."""

    name: str
    module: int  # the struct module's address (0 when only btf_modules names it)
    btf: BTF | None = None
    problem: str = ""
    size: int = 0  # bytes of BTF


def _list_entries(prog: Program, head: int) -> list[int]:
    """The list_head addresses on the list at `head`, up to a loop, a fault or the MAX_MODULES-th."""
    out: list[int] = []
    seen = {head}
    try:
        node = prog.read_u64(head)
        while node not in seen and len(out) < MAX_MODULES:
            seen.add(node)
            out.append(node)
            node = prog.read_u64(node)
    except CrashpyError:
        pass
    return out


def _kept_copies(prog: Program) -> dict[int, tuple[str, int, int, int]]:
    """btf_modules: by struct module address, (name, btf->data, btf->data_size, btf->start_id or -1
    when struct btf has none) of each module's BTF as kernel/bpf/btf.c keeps it."""
    sym = prog.symbols.lookup("btf_modules")
    if sym is None or not has_member(prog, "struct btf_module", "btf"):
        return {}
    o_list = prog.offsetof("btf_module", "list")
    checks_base = has_member(prog, "struct btf", "start_id")
    found: dict[int, tuple[str, int, int, int]] = {}
    for node in _list_entries(prog, sym.address):
        try:
            entry = Object(prog, "struct btf_module", node - o_list).read_()
            module = int(entry.module)
            btf = entry.btf.deref_().read_()
            name = btf.name.string_(64).decode("latin-1") if has_member(prog, "struct btf", "name") else ""
            start = int(btf.start_id) if checks_base else -1
            found[module] = (name, int(btf.data), int(btf.data_size), start)
        except CrashpyError:
            continue
    return found


def _loaded_modules(prog: Program) -> list[tuple[int, str, int, int]]:
    """The `modules` list: (struct module address, name, mod->btf_data, mod->btf_data_size)."""
    sym = prog.symbols.lookup("modules")
    if sym is None or not has_member(prog, "struct module", "btf_data"):
        return []
    o_list = prog.offsetof("module", "list")
    out: list[tuple[int, str, int, int]] = []
    for node in _list_entries(prog, sym.address):
        try:
            mod = Object(prog, "struct module", node - o_list)
            name = mod.name.string_(64).decode("latin-1")
            out.append((node - o_list, name, int(mod.btf_data), int(mod.btf_data_size)))
        except CrashpyError:
            continue
    return out


def _decode(prog: Program, base: BTF, entry: ModuleBTF, data: int, size: int, start_id: int) -> None:
    """Read `size` bytes of BTF at `data` and decode them over `base` into entry.btf, or say why not."""
    if not data or not size:
        entry.problem = "no BTF"
        return
    if not 0 < size <= MAX_BTF_SIZE:
        entry.problem = f"BTF size {size} out of range"
        return
    if start_id >= 0 and start_id != base.n_types:
        entry.problem = f"BTF built on another vmlinux BTF (first type id {start_id}, the kernel's BTF ends at {base.n_types})"
        return
    entry.size = size
    try:
        raw = prog.read(data, size, what="module BTF")
    except CrashpyError as e:
        entry.problem = f"BTF unreadable: {e}"
        return
    try:
        entry.btf = BTF(raw, base=base)
    except _DECODE_PROBLEMS as e:
        entry.problem = f"BTF does not decode: {e}"


class ModuleBTFs:
    """Every loaded module's BTF, read on first use (`modules`), and look-ups by name across them."""

    def __init__(self, prog: Program) -> None:
        self._prog = prog
        self._modules: list[ModuleBTF] | None = None
        self._found: dict[tuple[str, str], Type | None] = {}
        self._spelled: dict[str, Type | None] = {}
        self.read_seconds = 0.0
        """How long reading and decoding every module's BTF took (the name indexes come later)."""

    @property
    def loaded(self) -> bool:
        """Whether the modules' BTF has been read (a look-up missed in the kernel's types)."""
        return self._modules is not None

    @property
    def modules(self) -> list[ModuleBTF]:
        """Each loaded module's BTF (or why it has none), in the `modules` list's order."""
        if self._modules is None:
            t0 = time.perf_counter()
            self._modules = self._read()
            self.read_seconds = time.perf_counter() - t0
        return self._modules

    def _read(self) -> list[ModuleBTF]:
        prog = self._prog
        try:
            base = prog.btf
            kept = _kept_copies(prog)
            loaded = _loaded_modules(prog)
        except CrashpyError:  # no kernel BTF, or no struct module / btf_module in it
            return []
        out: list[ModuleBTF] = []
        for module, name, data, size in loaded:
            entry = ModuleBTF(name, module)
            copy = kept.pop(module, None)
            if copy is not None:
                _decode(prog, base, entry, copy[1], copy[2], copy[3])
            else:
                _decode(prog, base, entry, data, size, -1)
            out.append(entry)
        for module, (name, data, size, start) in kept.items():  # on btf_modules, not on `modules`
            entry = ModuleBTF(name, module)
            _decode(prog, base, entry, data, size, start)
            out.append(entry)
        return out

    def _drop(self, entry: ModuleBTF, e: Exception) -> None:
        """A module's BTF that failed in a look-up: skipped from now on."""
        entry.btf = None
        entry.problem = f"BTF does not decode: {e}"

    def find(self, name: str, kind: str) -> Type | None:
        """The type called `name` of `kind` ("struct", "union", "enum", "typedef", ...) that a loaded
        module defines, or None. Meant for names the kernel's BTF lacks: a module's split BTF also
        answers for its base's types."""
        key = (name, kind)
        if key in self._found:
            return self._found[key]
        t: Type | None = None
        for entry in self.modules:
            if entry.btf is None:
                continue
            try:
                t = entry.btf.find(name, kind)
            except _DECODE_PROBLEMS as e:
                self._drop(entry, e)
                t = None
            if t is not None:
                break
        self._found[key] = t
        return t

    def lookup_type(self, spelling: str) -> Type | None:
        """The type a C type name spells ("struct virtnet_info *") with a loaded module's types, or
        None when no module's BTF knows it."""
        if spelling in self._spelled:
            return self._spelled[spelling]
        t: Type | None = None
        for entry in self.modules:
            if entry.btf is None:
                continue
            try:
                t = entry.btf.lookup_type(spelling)
            except _DECODE_PROBLEMS as e:  # TypeLookupError (not this module's) is a CrashpyError
                if not isinstance(e, TypeLookupError):
                    self._drop(entry, e)
                t = None
            if t is not None:
                break
        self._spelled[spelling] = t
        return t


__all__ = ["MAX_BTF_SIZE", "ModuleBTF", "ModuleBTFs"]
