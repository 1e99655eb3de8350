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

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.helpers.numbers import getopt, hexadecimal, htol, is_a_number

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

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
    index: int  # position in the table


def _strip_symbol_end(name: str) -> str:
    for ending in _STRIP_ENDINGS:
        p = name.find(ending)
        if p >= 0:
            return name[:p]
    return name


def _section_letter(name: str, flags: int, sh_type: int) -> str:
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


class CrashSymtab:
    """crash's kernel symbol table, built from the vmlinux ELF the way crash's BFD reading does."""

    def __init__(self, prog: Program) -> None:
        self.names: list[str] = []
        self.values: list[int] = []
        self.types: list[str] = []
        self.first_ksymbol = 0
        self.percpu_syms = False
        self.text_ranges: list[tuple[int, int]] = []
        self.sections: list[tuple[str, int, int]] = []  # BFD's sections: (name, vma, end), link-time
        self._by_name: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._val_hash: dict[int, list[int]] | None = None
        self._val_last: dict[int, int] = {}
        image = prog.image
        if image is None:
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
        entries, strtab = image.symbols()
        rows: list[tuple[int, int, str, str]] = []  # (undefined-first key, value, raw name, letter)
        letters = [_section_letter(s.name, s.flags, s.type) for s in sections]
        nsec = len(sections)
        for st_name, info, _other, shndx, value, _size in entries[1:]:
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
                value = (value + offset) & 0xFFFFFFFFFFFFFFFF
            idx = len(self.names)
            self.names.append(name)
            self.values.append(value)
            self.types.append(letter)
            self._by_name.setdefault(name, idx)
            self._counts[name] = self._counts.get(name, 0) + 1

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, idx: int) -> CrashSymbol:
        return CrashSymbol(self.names[idx], self.values[idx], self.types[idx], idx)

    def __iter__(self) -> Iterator[CrashSymbol]:
        for i in range(len(self.names)):
            yield self[i]

    # ---- by name -------------------------------------------------------------------------------------

    def search(self, name: str) -> CrashSymbol | None:
        """symbol_search(): the first symbol called `name`."""
        idx = self._by_name.get(name)
        return None if idx is None else self[idx]

    def value_of(self, name: str) -> int | None:
        idx = self._by_name.get(name)
        return None if idx is None else self.values[idx]

    def exists(self, name: str) -> bool:
        return name in self._by_name

    def name_count(self, name: str) -> int:
        return self._counts.get(name, 0)

    def search_next(self, name: str, after: CrashSymbol) -> CrashSymbol | None:
        for i in range(after.index + 1, len(self.names)):
            if self.names[i] == name:
                return self[i]
        return None

    def query(self, substring: str) -> list[CrashSymbol]:
        """symbol_query(): every symbol whose name contains `substring`, in table order."""
        return [self[i] for i, n in enumerate(self.names) if substring in n]

    # ---- by value ------------------------------------------------------------------------------------

    def in_ksymbol_range(self, value: int) -> bool:
        if not self.values:
            return False
        if self.values[0] <= value <= self.values[-1]:
            return not (self.percpu_syms and value < self.first_ksymbol)
        return False

    def _build_value_hash(self) -> None:
        buckets: dict[int, list[int]] = {}
        for i, v in enumerate(self.values):
            buckets.setdefault((v >> 12) % _SYMVAL_HASH, []).append(i)
        self._val_hash = buckets
        self._val_last = {k: 0 for k in buckets}

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
        chain = self._val_hash.get(index)
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
        for i in range(sym.index + 1, len(self.values)):
            if self.values[i] > sym.value:
                return self[i]
        return None

    def prev_symbol(self, sym: CrashSymbol) -> CrashSymbol | None:
        return self[sym.index - 1] if sym.index > 0 else None

    def section_of(self, value: int) -> str:
        """get_section(): the first section whose link-time range holds `value`, or ""."""
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
        return found is not None and found[0].type in "tT"


def crash_symtab(prog: Program) -> CrashSymtab:
    """crash's symbol table for `prog`, built once."""
    return prog.cache("crash.symtab", lambda: CrashSymtab(prog))  # type: ignore[no-any-return]


def symbol_lookup(prog: Program) -> Callable[[str], int | None]:
    """A name -> value function for helpers.numbers (crash's symbol_search)."""
    return crash_symtab(prog).value_of


def source_line(prog: Program, addr: int) -> str:
    """`file: line` of a kernel text address as crash shows it (gdb's find_pc_line), or ""."""

    def load() -> object:
        try:
            from crashpy.disasm.lines import LineTable  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return None
        if not prog.vmlinux_path:
            return None
        try:
            return LineTable(prog.vmlinux_path)
        except Exception:
            return None

    table = prog.cache("sym.linetable", load)
    if table is None:
        return ""
    try:
        found = table.lookup(addr - prog.kaslr_offset)
    except Exception:
        return ""
    if not found:
        return ""
    path, line = found
    text = f"{path}: {line}"
    while "//" in text:
        text = text.replace("//", "/")
    return text


# ---- the command ---------------------------------------------------------------------------------------


def format_symbol(sym: CrashSymbol, offset: int = 0, radix: int = 10) -> str:
    """The start of a show_symbol() line: `value (type) name[+offset]`."""
    if offset:
        off = f"+0x{offset:x}" if radix == 16 else f"+{offset}"
        return f"{sym.value + offset:x} ({sym.type}) {sym.name}{off}"
    return f"{sym.value:x} ({sym.type}) {sym.name}"


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
          symbol  a kernel text or data symbol.
           vaddr  a kernel virtual address.

  When the symbol, address or query string matches a module symbol, the
  module's name follows the value in brackets.

EXAMPLES
  From a data symbol to its address, and back:

    crash> sym jiffies
    ffffffff82a09900 (D) jiffies

    crash> sym ffffffff82a09900
    ffffffff82a09900 (D) jiffies

  An address inside a function, with its source line:

    crash> sym ffffffff81000005
    ffffffff81000005 (T) startup_64+5 arch/x86/kernel/head_64.S: 62

  Every symbol whose name contains "sysrq_handle":

    crash> sym -q sysrq_handle
    ffffffff81760a10 (t) sysrq_handle_loglevel
    ffffffff81760a50 (t) sysrq_handle_crash
    ...
"""
)


def _show(session: Session, sym: CrashSymbol, offset: int, linenum: bool) -> None:
    """show_symbol() with the source line (`linenum`) or else the section name."""
    prog = session.prog
    table = crash_symtab(prog)
    addr = sym.value + offset
    text = format_symbol(sym, offset, session.radix)
    if linenum:
        if table.is_kernel_text(addr):
            table.value_search(addr)  # get_line_number() looks the address up too (crash's hash state)
            text += " " + source_line(prog, addr)
    else:
        text += f" [{table.section_of(addr)}]"
    session.println(text)


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
            others = True  # no module symbols yet: crash prints nothing without modules
        elif opt in ("l", "L"):
            for i in range(len(table)):
                session.println(format_symbol(table[i], 0, session.radix))
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
