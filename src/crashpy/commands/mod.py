"""mod: the kernel's loaded modules, and the loading of their debuginfo (mod -s, mod -S).

crash's cmd_mod()/do_module_cmd() (kernel.c): the module table (one row per load_module, ordered by
base address), `-t` (show_module_taint_4_10: each tainted module's letters from the kernel's
taint_flags[] table), and the loading of module object files (helpers/module_debuginfo.py):
`-s module [objfile]` and `-S [dir]` load and show the table rows of what they loaded, `-d` and
`-D` forget silently, `-R` forgets everything and lists the table again, `-o` changes nothing
here (crash's old add-symbol-file mode), and `-r` / `-g` (gdb's readnow, section symbols) are
taken out of the arguments as crash does and change nothing crashpy shows.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.help import print_usage
from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, no_arguments
from crashpy.elf.errors import ElfError
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import module_debuginfo as md
from crashpy.helpers.modules import LoadedModule, module_symtab
from crashpy.helpers.numbers import getopt, hexadecimal
from crashpy.program import Program

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  mod - module information and loading of symbols and debugging data

SYNOPSIS
  mod -s module [objfile] | -d module | -S [directory] [-D|-t|-r|-R|-o|-g]

DESCRIPTION
  Without options, lists every module the crashed kernel had loaded: the address
  of its struct module, its name, where its code starts, its size, and which
  object file its debug data came from ("(not loaded)" when none was read;
  "[CONFIG_KALLSYMS]" when the module's own symbol table was found in memory).

  The options deal with reading (or forgetting) a module's debug data from its
  .ko object file.  Once read, the module's source lines show in bt -l, dis -l
  and sym, and its variables and types in p, whatis and struct.  A file is
  looked for as <name>.o, <name>.ko or <name>.ko.debug (also with "-" for
  "_") below the given directory, or else below
  /usr/lib/debug/lib/modules/<release>, $CRASH_MODULE_PATH and
  /lib/modules/<release>.

  -s module [objfile]  read the debug data of one module, from objfile or from
                       the module's .ko found below /lib/modules/<release>.
            -d module  forget the debug data read for one module.
       -S [directory]  read the debug data of every module, looking for the
                       object files below directory when one is given.
                   -D  forget the debug data read for all modules.
                   -t  for each module with a non-zero taints mask, show the
                       letters of the taint kinds set in it.
                   -r  read an object file's symbols fully at once (crashpy
                       always reads them when first needed: accepted, no effect).
                   -R  read the module list again and show it.
                   -g  with -s or -S, also record each section's start and
                       end as symbols (accepted; crashpy adds no such symbols).
                   -o  use the older symbol-loading mechanism (no effect).

EXAMPLES
  List the modules:

    crash> mod
         MODULE       NAME                         BASE         SIZE  OBJECT FILE
    ffffffffc0208340  virtio_ring            ffffffffc0201000  49152  (not loaded)  [CONFIG_KALLSYMS]
    ffffffffc0210080  failover               ffffffffc020e000  16384  (not loaded)  [CONFIG_KALLSYMS]
    ffffffffc02152c0  virtio                 ffffffffc0213000  20480  (not loaded)  [CONFIG_KALLSYMS]
    ...

  Show the tainted modules:

    crash> mod -t
    NAME          TAINTS
    oracle_crash  OE
"""

VADDR_PRLEN = 16
TAINT_FLAGS_COUNT = 19  # Linux 6.1's TAINT_FLAGS_COUNT, if the taint_flags symbol has no size


def _center(text: str, width: int) -> str:
    """mkstring(CENTER|LJUST)."""
    if len(text) >= width:
        return text
    left = (width - len(text)) // 2
    return (" " * left + text).ljust(width)


def _has_kallsyms(prog: Program, lm: LoadedModule) -> bool:
    """Whether crash's store_module_kallsyms_v2 got far enough to mark the module MOD_KALLSYMS."""
    if prog.has_member("module", "core_kallsyms"):
        o_symtab = prog.offsetof("module", "core_kallsyms.symtab")
        o_strtab = prog.offsetof("module", "core_kallsyms.strtab")
    else:
        o_symtab, o_strtab = prog.offsetof("module", "symtab"), prog.offsetof("module", "strtab")
    try:
        prog.read(lm.base, lm.size)
        symtab = prog.read_u64(lm.struct_addr + o_symtab)
        strtab = prog.read_u64(lm.struct_addr + o_strtab)
    except CrashpyError:
        return False

    def inside(v: int) -> bool:
        return lm.in_core(v) or lm.in_init(v)

    return inside(symtab) and inside(strtab)


@dataclass(frozen=True)
class ModRow:
    """One loaded module of `mod`'s table, as data: the text and the JSON document are written from it."""

    module: int  # struct module *
    name: str
    base: int
    size: int
    text_size: int
    object_file: str | None  # the object file loaded by mod -s / mod -S, if any
    kallsyms: bool

    def json(self) -> dict[str, Any]:
        """The row as `mod --json` shows it (docs/json.md): addresses as hexadecimal strings."""
        row = dataclasses.asdict(self)
        return {**row, "module": hex_address(self.module), "base": hex_address(self.base)}


def mod_rows(prog: Program) -> list[ModRow]:
    """The loaded modules by base address, as `mod` lists them."""
    if prog.has_symbol("modules") and prog.has_member("module", "mem"):
        raise CommandError("modules of Linux 6.4 and later (module.mem[]) are not supported yet")
    files = md.loaded(prog)
    return [
        ModRow(
            lm.struct_addr,
            lm.name,
            lm.base,
            lm.size,
            lm.text_size,
            files[lm.name].path if lm.name in files else None,
            prog.cache(f"mod.kallsyms.{lm.struct_addr:x}", lambda lm=lm: _has_kallsyms(prog, lm)),
        )
        for lm in module_symtab(prog).modules
    ]


def list_modules(
    session: Session, rows: list[ModRow], header: bool = True, widths_from: list[ModRow] | None = None
) -> None:
    every = rows if widths_from is None else widths_from  # crash sizes the columns over every module
    name_w = max((len(row.name) for row in every), default=0)
    size_w = max((len(str(row.size)) for row in every), default=0)
    if header:
        session.println(
            f"{_center('MODULE', VADDR_PRLEN)}  {'NAME'.ljust(name_w)}  "
            f"{_center('BASE', VADDR_PRLEN)}  {'SIZE'.rjust(size_w)}  OBJECT FILE"
        )
    for row in rows:
        line = (
            f"{row.module:016x}  {row.name.ljust(name_w)}  {row.base:016x}  {str(row.size).rjust(size_w)}  "
        )
        if row.object_file:
            line += row.object_file + " "  # crash's "%s %s": the name, then " (temporary)" or nothing
        else:
            line += "(not loaded)"
        if row.kallsyms and not row.object_file:
            line += "  [CONFIG_KALLSYMS]"
        session.println(line)


def mod_document(session: Session, argv: list[str]) -> dict[str, Any]:
    """`mod --json`: one object per loaded module, by base address, as `mod` lists them."""
    no_arguments(argv)
    return {"modules": [row.json() for row in mod_rows(session.prog)]}


def show_taints(session: Session, modules: list[LoadedModule]) -> None:
    """show_module_taint_4_10()."""
    prog = session.prog
    if not (prog.has_symbol("taint_flags") and prog.has_member("taint_flag", "module")):
        raise CommandError("-t is not supported yet for kernels without a taint_flags table")
    o_taints = prog.offsetof("module", "taints")
    t_size = prog.btf.member("module", "taints").type.size
    masks: list[tuple[LoadedModule, int]] = []
    for lm in modules:
        raw = prog.read(lm.struct_addr + o_taints, 8 if t_size == 8 else 4)
        masks.append((lm, int.from_bytes(raw, "little")))
    tainted = [(lm, m) for lm, m in masks if m]
    if not tainted:
        session.println("no tainted modules")
        return
    width = max(len(lm.name) for lm, _ in tainted)
    flag_size = prog.sizeof("taint_flag")
    o_true = prog.offsetof("taint_flag", "c_true" if prog.has_member("taint_flag", "c_true") else "true")
    o_mod = prog.offsetof("taint_flag", "module")
    sym = prog.symbol("taint_flags")
    count = sym.size // flag_size if sym.size else TAINT_FLAGS_COUNT
    table = prog.read(sym.address, count * flag_size)
    letters = [(chr(table[j * flag_size + o_true]), bool(table[j * flag_size + o_mod])) for j in range(count)]
    session.println(f"{'NAME'.ljust(width)}  TAINTS")
    for lm, mask in tainted:
        text = "".join(c for j, (c, for_modules) in enumerate(letters) if for_modules and mask >> j & 1)
        session.println(f"{lm.name.ljust(width)}  {text}")


def _module_named(modules: list[LoadedModule], name: str) -> LoadedModule:
    return next(lm for lm in modules if lm.name == name)


def _show_loaded(session: Session, lm: LoadedModule, header: bool) -> None:
    """The table's row of one module (do_module_cmd(LIST_MODULE[_HDR]) with its address)."""
    rows = mod_rows(session.prog)
    list_modules(session, [r for r in rows if r.base == lm.base], header=header, widths_from=rows)


def _load(session: Session, lm: LoadedModule, path: str) -> bool:
    """load_module_symbols(): a module already loaded keeps its file; False when the file fails."""
    prog = session.prog
    if lm.name in md.loaded(prog):
        return True
    try:
        md.load(prog, lm, path)
    except (ElfError, CrashpyError):
        return False
    return True


def load_one(session: Session, lm: LoadedModule, objfile: str | None) -> None:
    """mod -s module [objfile]."""
    prog = session.prog
    if objfile is not None:
        path = objfile
        if not os.path.exists(objfile):
            found = md.find_objfile(prog, lm.name, None, objfile)
            if found is None:
                raise CommandError(f"{lm.name}: cannot find or load object file: {objfile}")
            path = found
    else:
        found = md.find_objfile(prog, lm.name, None)
        if found is None:
            raise CommandError(f"cannot find or load object file for {lm.name} module")
        path = found
    if not md.is_elf_file(path):
        session.println(f"mod: {path}: not an ELF format object file")
        print_usage(session, "mod")
        return
    if not _load(session, lm, path):
        raise CommandError(f"cannot load symbols from: {path}")
    _show_loaded(session, lm, header=True)


def load_all(session: Session, modules: list[LoadedModule], tree: str | None) -> None:
    """mod -S [directory]: each module's object file, a table row as each one is loaded."""
    prog = session.prog
    shown = 0
    for lm in sorted(modules, key=lambda m: m.base):
        path = md.find_objfile(prog, lm.name, tree)
        if path is not None:
            if not md.is_elf_file(path):
                session.println(f"mod: {path}: not an ELF format object file")
            elif not _load(session, lm, path):
                session.println(f"mod: cannot load symbols from: {path}")
        elif lm.name not in md.loaded(prog):
            session.println(f"mod: cannot find or load object file for {lm.name} module")
            continue
        _show_loaded(session, lm, header=not shown)
        shown += 1


def _strip_g_r(args: list[str]) -> list[str]:
    """cmd_mod's pre-pass: -g and -r are taken out of the arguments before getopt sees them."""
    out: list[str] = []
    for a in args:
        if not a.startswith("-"):
            out.append(a)
            continue
        if a in ("-g", "-r"):
            continue
        for ch in "gr":
            p = a.find(ch)
            if p >= 0:
                a = a[:p] + a[p + 1 :]
        if a != "-":
            out.append(a)
    return out


@command(
    "mod",
    summary="module information and loading of symbols and debugging data",
    help=HELP,
    json=mod_document,
)
def cmd_mod(session: Session, args: list[str]) -> None:
    prog = session.prog
    if prog.has_symbol("modules") and prog.has_member("module", "mem"):
        raise CommandError("modules of Linux 6.4 and later (module.mem[]) are not supported yet")
    modules = module_symtab(prog).modules
    if not modules:
        session.println("no modules installed")
        return
    parsed = getopt(_strip_g_r(args), "Rd:Ds:Sot")
    errors = iter(parsed.errors)
    flag = ""
    modref = ""
    for opt, optarg in parsed.opts:
        if opt == "?":
            session.println(f"mod: {next(errors, '')}")
            continue
        if opt == "o":
            if flag:
                print_usage(session, "mod")
            return  # crash sets USE_OLD_ADD_SYM and is done: nothing to show
        if flag:
            print_usage(session, "mod")
            return
        flag = opt
        if opt in ("d", "s"):
            assert optarg is not None
            if hexadecimal(optarg) and len(optarg) == VADDR_PRLEN:
                addr = int(optarg, 16)
                hit = next((lm for lm in modules if lm.base == addr), None)  # is_module_address()
            else:
                hit = next((lm for lm in modules if lm.name == optarg), None)
            modref = hit.name if hit is not None else ""
            if hit is None:
                print_usage(session, "mod")
                return
    if parsed.errors:
        print_usage(session, "mod")
        return
    words = len(_strip_g_r(args)) + 1  # crash's argcnt
    if flag == "S":
        if words == 3 and not os.path.isdir(parsed.args[-1] if parsed.args else ""):
            session.println(f"mod: {parsed.args[-1] if parsed.args else ''} is not a directory")
            print_usage(session, "mod")
            return
        if words not in (2, 3):
            print_usage(session, "mod")
            return
        load_all(session, modules, parsed.args[-1] if words == 3 else None)
        return
    if flag == "s":
        if words not in (3, 4):
            print_usage(session, "mod")
            return
        load_one(session, _module_named(modules, modref), parsed.args[-1] if words == 4 else None)
        return
    if flag == "d":
        md.unload(prog, _module_named(modules, modref).name)
        return
    if flag in ("D", "R"):
        md.unload(prog, None)  # -R: crash's reinit_modules() forgets every loaded object file
        if flag == "D":
            return
    if flag == "t":
        show_taints(session, modules)
        return
    list_modules(session, mod_rows(prog))  # "" and R (re-reading the list of a dump changes nothing)
