"""Module debuginfo: the object files `mod -s` and `mod -S` load, as crash finds and places them.

Finding the file (crash's find_module_objfile / module_objfile_search, kernel.c): a given file is taken
as it is; otherwise `<name>.o`, `<name>.ko` and `<name>.ko.debug` are looked for under the given tree
(symbolic links followed), or else under /usr/lib/debug/lib/modules/<release> (with .ko.debug),
$CRASH_MODULE_PATH, /lib/modules/<release>/updates and /lib/modules/<release> (.o and .ko only), and
the vmlinux file's directory; the first file of that name in the walk wins. When the name is not
found, `_` is tried as `-`, and then (for names with more than one `_`) each `_` as either.

Placing it: the kernel records where each allocated section of the module went in struct module's
sect_attrs (the sysfs /sys/module/<name>/sections files): crash hands gdb those addresses
(add_symbol_file_kallsyms), and so do we, to the ELF relocation layer (elf/relocate.py), whose
relocated DWARF the line tables (dwarf/lines.py) and types (types/dwarf.py) read lazily.

The loaded set belongs to the Program (prog.cache("module.debuginfo")): `loaded(prog)` maps a module
name to its ModuleDebuginfo.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.elf.constants import (
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_WRITE,
    SHT_NOBITS,
    STT_FILE,
    STT_OBJECT,
    STT_SECTION,
)
from crashpy.elf.errors import ElfError
from crashpy.elf.file import ElfFile, peek_type
from crashpy.elf.relocate import RelocatedSections
from crashpy.errors import CrashpyError
from crashpy.helpers.modules import LoadedModule, module_symtab
from crashpy.object import ModuleTypes, has_member, module_types

if TYPE_CHECKING:
    from crashpy.program import Program

DEBUG_LOCATION = "/usr/lib/debug/lib/modules"
STB_GLOBAL = 1
STB_WEAK = 2


@dataclass
class ModuleDebuginfo:
    """One module's loaded object file: where it is, and its sections placed where the kernel put them."""

    name: str
    path: str
    base: int
    size: int
    sections: dict[str, int]
    elf: ElfFile
    relocated: RelocatedSections
    ranges: list[tuple[int, int]] = field(default_factory=list)
    _placed: list[tuple[str, int, int, str]] | None = None

    def close(self) -> None:
        self.elf.close()

    def placed_symbols(self) -> list[tuple[str, int, int, str]]:
        """The object file's symbols as crash takes them in (store_load_module_symbols): those defined
        in a section the kernel placed, not named like ".LC5": (name, address, size, nm letter), in
        the file's order."""
        if self._placed is None:
            out: list[tuple[str, int, int, str]] = []
            tab = self.elf.symtab
            sections = self.elf.sections
            if tab is not None:
                for st_name, info, _other, shndx, value, size in tab.rows():
                    kind = info & 0xF
                    if not 0 < shndx < len(sections) or kind in (STT_SECTION, STT_FILE):
                        continue
                    sec = sections[shndx]
                    if sec.name not in self.sections or not sec.flags & SHF_ALLOC:
                        continue
                    name = tab.name_at(st_name)
                    if not name or name.startswith("."):
                        continue
                    out.append(
                        (name, value + self.sections[sec.name], size, _nm_letter(info, sec.type, sec.flags))
                    )
            self._placed = out
        return self._placed

    def function_range(self, addr: int) -> tuple[int, int] | None:
        """[start, end) of the object file's function symbol (with a size) holding `addr`."""
        for _name, start, size, letter in self.placed_symbols():
            if letter in "tT" and size and start <= addr < start + size:
                return start, start + size
        return None


def _nm_letter(info: int, sh_type: int, flags: int) -> str:
    """The letter nm (BFD's bfd_decode_symclass) gives a symbol defined in a section of this kind."""
    bind = info >> 4
    if bind == STB_WEAK:
        return "W" if info & 0xF != STT_OBJECT else "V"
    if flags & SHF_EXECINSTR:
        letter = "t"
    elif sh_type == SHT_NOBITS:
        letter = "b"
    elif not flags & SHF_WRITE:
        letter = "r"
    else:
        letter = "d"
    return letter.upper() if bind == STB_GLOBAL else letter


def loaded(prog: Program) -> dict[str, ModuleDebuginfo]:
    """The modules whose object files are loaded, by name (the Program's own set)."""
    found: dict[str, ModuleDebuginfo] = prog.cache("module.debuginfo", dict)
    return found


def release(prog: Program) -> str:
    """The kernel's release (utsname), as crash uses it to name module directories."""
    from crashpy.helpers.sysinfo import utsname

    try:
        return utsname(prog)["release"]
    except (CrashpyError, KeyError):
        return prog.vmcoreinfo.get("OSRELEASE") or ""


def _search_tree(directory: str, pattern: str, follow_links: bool) -> str | None:
    """crash's search_directory_tree(): the first file whose name is `pattern` in a walk of
    `directory` (a pattern with [...] is a regular expression matched anywhere in the name)."""
    if not os.path.isdir(directory):
        return None
    regex = re.compile(pattern) if "[" in pattern and "]" in pattern.split("[", 1)[1] else None
    for root, dirs, files in os.walk(directory, followlinks=follow_links):
        for name in [*dirs, *files]:
            if regex is None:
                if fnmatch.fnmatchcase(name, pattern) and name == pattern:
                    return os.path.join(root, name)
            elif fnmatch.fnmatchcase(name, pattern) or regex.search(name):
                return os.path.join(root, name)
    return None


def _search_one(
    modref: str, tree: str | None, vmlinux: str | None, rel: str, filename: str | None = None
) -> str | None:
    """module_objfile_search() for one spelling of the module's name (`filename`: the name given
    to mod -s, looked for first in place of <name>.o)."""
    dotted = filename if filename is not None else f"{modref}.o"
    if tree is not None:
        for name in (dotted, f"{modref}.ko", f"{modref}.ko.debug"):
            found = _search_tree(tree, name, True)
            if found:
                return found
        return None
    places: list[tuple[str, bool]] = [(f"{DEBUG_LOCATION}/{rel}", True)]
    env = os.environ.get("CRASH_MODULE_PATH")
    if env:
        places.append((env, True))
    places += [(f"/lib/modules/{rel}/updates", False), (f"/lib/modules/{rel}", False)]
    if vmlinux:
        places.append((os.path.dirname(os.path.realpath(vmlinux)), True))
    for directory, with_debug in places:
        names = [dotted, f"{modref}.ko"] + ([f"{modref}.ko.debug"] if with_debug else [])
        for name in names:
            found = _search_tree(directory, name, False)
            if found:
                return found
    return None


def search_objfile(
    modref: str, tree: str | None, vmlinux: str | None, rel: str, filename: str | None = None
) -> str | None:
    """The object file of module `modref` for kernel release `rel`: the name as it is, then with "-"
    for "_", then (more than one "_") with either at each "_"; None when none is found."""
    found = _search_one(modref, tree, vmlinux, rel, filename)
    if found is None:
        found = _search_one(modref.replace("_", "-"), tree, vmlinux, rel, filename)
    if found is None and modref.count("_") > 1:
        found = _search_one(modref.replace("_", "[_-]"), tree, vmlinux, rel, filename)
    return found


def find_objfile(prog: Program, modref: str, tree: str | None, filename: str | None = None) -> str | None:
    """crash's find_module_objfile(): the object file of module `modref` (`filename`: a name given
    to mod -s that is no file here, looked for in the same places), or None."""
    return search_objfile(modref, tree, prog.vmlinux_path, release(prog), filename)


def is_elf_file(path: str) -> bool:
    """Whether `path` starts like an ELF file."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and peek_type(head) is not None


def section_addresses(prog: Program, lm: LoadedModule) -> dict[str, int]:
    """Where each allocated section of the module lies: struct module.sect_attrs (name -> address)."""
    if not (
        has_member(prog, "struct module", "sect_attrs")
        and has_member(prog, "struct module_sect_attrs", "attrs")
    ):
        return {".text": lm.base}
    attrs = prog.read_u64(lm.struct_addr + prog.offsetof("module", "sect_attrs"))
    if not attrs:
        return {".text": lm.base}
    count = prog.read_u32(attrs + prog.offsetof("module_sect_attrs", "nsections"))
    first = attrs + prog.offsetof("module_sect_attrs", "attrs")
    size = prog.sizeof("module_sect_attr")
    o_name = prog.offsetof("module_sect_attr", "battr.attr.name")
    o_addr = prog.offsetof("module_sect_attr", "address")
    out: dict[str, int] = {}
    for i in range(min(count, 1024)):
        raw = prog.read(first + i * size, size)
        name = prog.read_cstring(int.from_bytes(raw[o_name : o_name + 8], "little"), 256).decode("latin-1")
        out[name] = int.from_bytes(raw[o_addr : o_addr + 8], "little")
    return out


def load(prog: Program, lm: LoadedModule, path: str) -> ModuleDebuginfo:
    """Open module `lm`'s object file at `path`, placed where the kernel loaded its sections
    (ElfError when it is no usable object file)."""
    elf = ElfFile(path)
    try:
        if elf.symtab is None:
            raise ElfError(f"no symbols in object file: {path}")
        sections = section_addresses(prog, lm)
        relocated = RelocatedSections(elf, sections)
    except (ElfError, CrashpyError):
        elf.close()
        raise
    ranges = [(lm.base, lm.base + lm.size)]
    if lm.init_size:
        ranges.append((lm.init_base, lm.init_base + lm.init_size))
    info = ModuleDebuginfo(lm.name, path, lm.base, lm.size, sections, elf, relocated, ranges)
    loaded(prog)[lm.name] = info
    from crashpy.dwarf.lines import module_lines

    module_lines(prog).add(lm.name, ranges, relocated)
    module_types(prog)[lm.name] = ModuleTypes(prog, elf, relocated)
    module_symtab(prog).retype(lm.name, [(n, letter) for n, _a, _s, letter in info.placed_symbols()])
    return info


def function_range(prog: Program, addr: int) -> tuple[int, int] | None:
    """gdb's bounds of the function at `addr` when its module's object file is loaded, else None."""
    for info in loaded(prog).values():
        if any(lo <= addr < hi for lo, hi in info.ranges):
            return info.function_range(addr)
    return None


def unload(prog: Program, name: str | None) -> None:
    """Forget the object file of module `name` (of every module when None)."""
    from crashpy.dwarf.lines import module_lines

    table = loaded(prog)
    for key in [name] if name is not None else list(table):
        info = table.pop(key, None) if key is not None else None
        if info is not None:
            module_lines(prog).remove(key)
            module_types(prog).pop(key, None)
            module_symtab(prog).retype(key, None)
