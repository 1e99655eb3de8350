"""sym: symbol to address and back, crash's symbol list, queries; and crash's view of the symbol table.

crash does not show vmlinux's .symtab as it is: it reads it through BFD (section and file symbols
included, `.isra.`/`.part.`/`.llvm.` name endings cut off), sorts it like `nm -n` (by address, then
by name), and keeps nothing below `_text` but the per-cpu symbols (x86_64_verify_symbol).  Its
address look-ups pick the last symbol of the address below for an address inside a symbol, and the
first symbol of an address for the address itself, unless a previous look-up left crash's value
hash pointing further into that address's symbols (symbols.c value_search, symval_hash_search).  `CrashSymtab` is that table; every command
that prints `symbol+offset` the way crash does should go through `crash_symtab(prog)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.commands.registry import command
from crashpy.helpers.numbers import getopt, hexadecimal, htol, is_a_number
from crashpy.symbols.crash_view import CrashSymbol, crash_symtab

if TYPE_CHECKING:
    from crashpy.session import Session


# ---- the command ---------------------------------------------------------------------------------------


def format_symbol(sym: CrashSymbol, offset: int = 0, radix: int = 10) -> str:
    """The start of a show_symbol() line: `value (type) name[+offset]`."""
    if sym.module and sym.name.startswith("_MODULE_START_"):
        text = f"{sym.value:x} ({sym.type}) ({sym.name[len('_MODULE_START_') :]} module)"
        if offset:
            text += f"+0x{offset:x}" if radix == 16 else f"+{offset}"
        return text
    mod = f" [{sym.module}]" if sym.module else ""  # show_symbol(SHOW_MODULE)
    if offset:
        # crash prints the offset with %lx or %ld: in decimal a symbol far below (a per-cpu offset
        # nearest a relocated kernel's unrelocated address) shows as a negative long
        signed = offset - (1 << 64) if offset >= 1 << 63 else offset
        off = f"+0x{offset:x}" if radix == 16 else f"+{signed}"
        return f"{(sym.value + offset) & MASK64:x} ({sym.type}) {sym.name}{off}{mod}"
    return f"{sym.value:x} ({sym.type}) {sym.name}{mod}"


# crash's NAME line for sym ends in a blank.
HELP = (
    "NAME\n  sym - translate a symbol to its virtual address, or vice-versa \n\n"
    + """\
SYNOPSIS
  sym [-l] | [-M] | [-m module] | [-p|-n] | [-q string] | [symbol | vaddr]

DESCRIPTION
  Turns a kernel symbol into its address, or a kernel virtual address into the
  symbol it belongs to, shown as symbol+offset when it points inside one.  The
  symbol's type letter, as nm(1) prints it, follows the address in parentheses;
  for an address in kernel text the source file and line come last.

              -l  list every symbol with its value, in address order.
              -M  list the symbols of the loaded modules.
       -m module  list the symbols of one loaded module.
              -p  show the symbol just before the target as well.
              -n  show the symbol just after the target as well.
       -q string  show every symbol whose name contains "string".
          symbol  the name of a kernel function or variable.
           vaddr  an address in the kernel's virtual address space.

  When the symbol, address or query string matches a module symbol, the
  module's name follows the value in brackets.

EXAMPLES
  From a data symbol to its address, and back:

    crash> sym jiffies
    ffffffff82a079c0 (D) jiffies

    crash> sym ffffffff82a079c0
    ffffffff82a079c0 (D) jiffies

  An address inside a function, with its source line:

    crash> sym ffffffff81000005
    ffffffff81000005 (T) startup_64+5 /build/reproducible-path/linux-6.1.192/arch/x86/kernel/head_64.S: 65

  Every symbol whose name contains "sysrq_handle":

    crash> sym -q sysrq_handle
    ffffffff81689310 (t) sysrq_handler
    ffffffff816a8760 (t) sysrq_handle_reboot
    ffffffff816a8780 (t) sysrq_handle_showstate_blocked
    ...
"""
)


def _show(session: Session, sym: CrashSymbol, offset: int, linenum: bool) -> None:
    """show_symbol() with the source line (`linenum`) or else the section name."""
    session.println(symbol_line(session, sym, offset, linenum))


def symbol_line(session: Session, sym: CrashSymbol, offset: int, linenum: bool) -> str:
    """The line show_symbol() prints: with the source line (`linenum`) or else the section name."""
    prog = session.prog
    table = crash_symtab(prog)
    addr = sym.value + offset
    text = format_symbol(sym, offset, session.radix)
    if sym.module and sym.name.startswith("_MODULE_START_"):
        return text
    module = sym.module or None
    if linenum:
        if table.is_kernel_text(addr):
            from crashpy.dwarf.lines import source_line

            if module is None:
                table.value_search(addr)  # get_line_number() looks the address up too (crash's hash state)
            # a module's address has a line once its debuginfo is loaded (mod -s), "" before
            text += " " + source_line(prog, addr)
    else:
        text += f" [{table.section_of(addr)}]"
    return text


def _module_listing(session: Session, module: str | None) -> None:
    """sym -m / -M (and the end of sym -l): the module symbols as crash lists them, without the
    [module] suffix of a look-up; each module between its MODULE START and MODULE END lines."""
    for item in crash_symtab(session.prog).module_listing(module):
        if isinstance(item, tuple):
            value, tag, name = item
            session.println(f"{value:x} {tag}: {name}")
        else:
            session.println(f"{item.value:x} ({item.type}) {item.name}")


def _query(session: Session, text: str, pad: str) -> int:
    table = crash_symtab(session.prog)
    found = table.query(text)
    for sym in found:
        session.println(pad + format_symbol(sym, 0, session.radix))
    return len(found)


@command("sym", summary="translate a symbol to its virtual address, or vice-versa", help=HELP, minimal=True)
def cmd_sym(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    prog = session.prog
    table = crash_symtab(prog)
    parsed = getopt(args, "lLQ:q:npsMm:")
    for err in parsed.errors:
        session.println(f"sym: {err}")
    nxt = prev = False
    others = False
    linenum = True
    errors = bool(parsed.errors)
    for opt, val in parsed.opts:
        if opt == "n":
            nxt = True
        elif opt == "p":
            prev = True
        elif opt == "Q":
            found = table.query(val or "")
            text = f"{len(found)} found "
            if found:
                text += f"({found[-1].name})"
            session.println(text)
            others = True
        elif opt == "q":
            if not _query(session, val or "", ""):
                session.println("(none found)")
            others = True
        elif opt in ("m", "M"):
            _module_listing(session, val if opt == "m" else None)
            others = True
        elif opt in ("l", "L"):
            for i in range(len(table)):
                session.println(format_symbol(table[i], 0, session.radix))
            _module_listing(session, None)
            others = True
        elif opt == "s":
            linenum = False  # -s shows the section instead
        else:
            errors = True
    if errors:
        print_usage(session, "sym")
        return
    if not parsed.args:
        if not others:
            print_usage(session, "sym")
        return
    for arg in parsed.args:
        if arg and arg[-1] in ",:" and is_a_number(arg[:-1]):
            arg = arg[:-1]
        if not table.exists(arg) and hexadecimal(arg):
            notes: list[str] = []
            value = htol(arg, notes)
            for note in notes:
                session.println(f"sym: {note}")
            if value is None or not table.in_ksymbol_range(value):
                session.println(f"sym: invalid address: {arg}")
                continue
            hit = table.value_search(value)
            if hit is None:
                session.println(f"symbol not found: {arg}")
                continue
            sym, offset = hit
            if prev and (p := table.prev_symbol(sym)) is not None:
                _show(session, p, 0, linenum)
            _show(session, sym, offset, linenum)
            if nxt and (n := table.next_symbol(sym)) is not None:
                _show(session, n, 0, linenum)
            continue
        first = table.search(arg)
        if first is None:
            session.println(f"symbol not found: {arg}")
            session.println("possible alternatives:")
            if not _query(session, arg, "  "):
                session.println("  (none found)")
            continue
        multiples = table.name_count(first.name)
        cur: CrashSymbol | None = first
        while cur is not None:
            if prev and (p := table.prev_symbol(cur)) is not None:
                _show(session, p, 0, linenum)
            _show(session, cur, 0, linenum)
            if nxt and (n := table.next_symbol(cur)) is not None:
                _show(session, n, 0, linenum)
            cur = table.search_next(first.name, cur) if multiples > 1 else None
