"""dis: disassemble kernel text as crash 8.0.6 shows it (gdb's x/i output, then crash's filter).

crash asks gdb for ``x/<n>i <addr>`` and rewrites each line (kernel.c cmd_dis, x86_64.c
x86_64_dis_filter): the leading ``<sym+off>`` and the ``<symbol>`` after the last address of a line
come from crash's own symbol table (value_to_symstr, in the output radix), a jump whose target gdb
could not name gets crash's name appended, and a ``nopl 0x0(%rax,%rax,1)`` at a symbol's first byte
is marked ``[FTRACE NOP]``.  Instructions are decoded from the dump's memory (the patched text:
alternatives, static keys, ftrace), as gdb inside crash reads them.

Whether gdb puts a ``<symbol>`` after an address at all follows gdb's minimal-symbol look-up
(minsyms.c lookup_minimal_symbol_by_pc_section) over vmlinux's .symtab: the address must lie in a
section of the kernel image and be covered by a sized symbol or follow a zero-sized one.

Beyond crash: ``-w`` appends ``; BUG at file:line`` to each ``ud2`` that has a ``__bug_table``
entry (crash's own ``-b num``/``-B num`` only set how many bytes follow a ud2a, as they do here).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import crashpy.diskcache as diskcache
from crashpy.bits import MASK64
from crashpy.commands.registry import command
from crashpy.errors import AddressSpace, CommandError, CrashpyError, FaultError, FaultKind
from crashpy.helpers.numbers import DivisionByZero, can_eval, eval_expression, hexadecimal, htol, stol

if TYPE_CHECKING:
    from crashpy.disasm.x86 import Insn
    from crashpy.elf.file import ElfFile
    from crashpy.program import Program
    from crashpy.session import Session
    from crashpy.symbols.crash_view import CrashSymbol, CrashSymtab

HELP = """\
NAME
  dis - disassemble

SYNOPSIS
  dis [-rfludxs][-b [num]] [address | symbol | (expression)] [count]

DESCRIPTION
  Decodes kernel machine code into instructions.  The place to start (or, with
  -r, to stop) is a text address, given as a number, a symbol or an expression:

            -r  (reverse) begin at the first instruction of the function that
                holds the address, and go on up to the address itself.
            -f  (forward) begin at the address and go on to the last
                instruction of its function.
            -l  before each run of instructions, name the source file and line
                they were compiled from.
            -u  read the address in the user address space of the current
                task instead of in the kernel's; -r and -l then have no effect.
            -x  show numbers in hexadecimal, whatever the output radix is.
            -d  show numbers in decimal, whatever the output radix is.
            -s  name the source file and line of the address and then list
                that part of the source file, when the file can be found.
            -w  (crashpy) after each ud2 that has a __bug_table entry, show the
                file and line of the BUG() or WARN() that planted it.
        -b num  set how many bytes of inline data follow a BUG ("ud2a")
                instruction and are skipped over; without num, print the
                value in use.  Only on x86 and x86_64.
       address  the text address, in hexadecimal, to begin at.
        symbol  a text symbol whose address is the place to begin.
  (expression)  an expression whose value is the text address to begin at.
         count  how many instructions to decode; 1 if not given, except that a
                bare function symbol with no count decodes the whole function.
                -r and -f take a count as well.

EXAMPLES
  The first instructions of the function behind the sysrq "c" key:

    crash> dis sysrq_handle_crash 3
    0xffffffff816a89f0 <sysrq_handle_crash>:	nopl   0x0(%rax,%rax,1) [FTRACE NOP]
    0xffffffff816a89f5 <sysrq_handle_crash+5>:	call   0xffffffff81128270 <__rcu_read_unlock>
    0xffffffff816a89fa <sysrq_handle_crash+10>:	mov    $0xffffffff823697b9,%rdi

  Two instructions, each run preceded by its source line:

    crash> dis -l sysrq_handle_crash 2
    debian/build/build_amd64_none_cloud-amd64/drivers/tty/sysrq.c: 151
    0xffffffff816a89f0 <sysrq_handle_crash>:	nopl   0x0(%rax,%rax,1) [FTRACE NOP]
    debian/build/build_amd64_none_cloud-amd64/include/linux/rcupdate.h: 823
    0xffffffff816a89f5 <sysrq_handle_crash+5>:	call   0xffffffff81128270 <__rcu_read_unlock>
"""

_READ_AHEAD = 16  # bytes read past the end, so that a last instruction is never cut


class _GdbMinsyms:
    """gdb's minimal symbols of vmlinux: whether gdb prints `<symbol>` after an address."""

    def __init__(self, prog: Program) -> None:
        image = prog.image
        self.sections: list[tuple[int, int, int]] = []  # (start, end, index) of allocated sections
        self.values: list[int] = []
        self.sizes: list[int] = []
        self.shndx: list[int] = []
        self.text_sections: set[int] = set()
        if image is None:
            self._from_kallsyms(prog)
            return
        from crashpy.symbols.crash_view import vmlinux_cache_file

        cache = vmlinux_cache_file(prog, "dis-minsyms", "1")
        saved = diskcache.load(cache)
        if isinstance(saved, tuple) and len(saved) == 5:
            self.sections, self.values, self.sizes, self.shndx, text = saved
            self.text_sections = set(text)
            return
        self._build(image)
        diskcache.save(cache, (self.sections, self.values, self.sizes, self.shndx, sorted(self.text_sections)))

    def _build(self, image: ElfFile) -> None:
        for idx, sec in enumerate(image.sections):
            if sec.flags & 0x2 and sec.size and sec.addr >= 0xFFFFFFFF80000000:
                self.sections.append((sec.addr, sec.addr + sec.size, idx))
            if sec.flags & 0x4:
                self.text_sections.add(idx)
        self.sections.sort()
        symtab = image.symtab
        raw, strtab = (symtab.rows(), symtab.strtab) if symtab is not None else ([], b"")
        rows = []
        for st_name, st_info, _other, shndx, value, size in raw:
            kind = st_info & 0xF
            if kind in (3, 4) or shndx == 0 or shndx >= 0xFF00 or not st_name or strtab[st_name] == 0:
                continue
            rows.append((value, shndx, size))
        rows.sort(key=lambda r: r[0])
        self.values = [r[0] for r in rows]
        self.shndx = [r[1] for r in rows]
        self.sizes = [r[2] for r in rows]

    def _from_kallsyms(self, prog: Program) -> None:
        """Without a vmlinux: the dump's kallsyms in the sections the linker script's symbols bound
        (link-time addresses, as from the vmlinux); a symbol reaches to the next one above it."""
        from crashpy.symbols.crash_view import kernel_sections

        try:
            ks = prog.kallsyms
        except CrashpyError:
            return
        kaslr = prog.kaslr_offset
        where = dict(zip(ks.names, ks.addresses, strict=True))
        for idx, _name, lo, hi, code in kernel_sections(where.get):
            self.sections.append(((lo - kaslr) & MASK64, (hi - kaslr) & MASK64, idx))
            if code:
                self.text_sections.add(idx)
        self.sections.sort()
        rows = []
        for addr in sorted(set(ks.addresses)):
            value = (addr - kaslr) & MASK64
            section = self.section_of(value)
            if section is not None:
                rows.append((value, section))
        for k, (value, section) in enumerate(rows):
            self.values.append(value)
            self.shndx.append(section)
            self.sizes.append(rows[k + 1][0] - value if k + 1 < len(rows) else 0)

    def section_of(self, addr: int) -> int | None:
        i = bisect.bisect_right(self.sections, (addr, 1 << 64)) - 1
        if i >= 0 and self.sections[i][0] <= addr < self.sections[i][1]:
            return self.sections[i][2]
        return None

    def lookup(self, pc: int) -> int | None:
        """The index of gdb's msymbol for link-time address `pc`, or None."""
        section = self.section_of(pc)
        if section is None or not self.values or pc < self.values[0]:
            return None
        values, sizes, shndx = self.values, self.sizes, self.shndx
        hi = bisect.bisect_right(values, pc) - 1
        best_zero = -1
        while hi >= 0:
            if shndx[hi] != section:
                hi -= 1
                continue
            if sizes[hi] == 0:
                if best_zero == -1:
                    best_zero = hi
                hi -= 1
                continue
            if hi > 0 and pc >= values[hi] + sizes[hi] and pc < values[hi - 1] + sizes[hi - 1]:
                hi -= 1
                continue
            break
        if best_zero != -1 and (hi < 0 or sizes[hi] == 0):
            hi = best_zero
        if hi >= 0 and sizes[hi] != 0 and pc >= values[hi] + sizes[hi]:
            if best_zero != -1:
                hi = best_zero
            else:
                return None
        return hi if hi >= 0 else None

    def has_symbol(self, pc: int) -> bool:
        """Whether gdb's build_address_symbolic() names `pc`: a zero-sized data symbol does not count."""
        hi = self.lookup(pc)
        if hi is None:
            return False
        return self.sizes[hi] != 0 or self.shndx[hi] in self.text_sections

    def function_range(self, pc: int) -> tuple[int, int] | None:
        """find_pc_partial_function() from minimal symbols: [start, end) of the function at `pc`."""
        hi = self.lookup(pc)
        if hi is None:
            return None
        start = self.values[hi]
        if self.sizes[hi]:
            return start, start + self.sizes[hi]
        section = self.shndx[hi]
        for k in range(hi + 1, len(self.values)):
            if self.values[k] > start and self.shndx[k] == section:
                return start, self.values[k]
        for _lo, hi_end, idx in self.sections:
            if idx == section:
                return start, hi_end
        return None


def gdb_minsyms(prog: Program) -> _GdbMinsyms:
    return prog.cache("dis.minsyms", lambda: _GdbMinsyms(prog))  # type: ignore[no-any-return]


def symstr(table: CrashSymtab, value: int, radix: int) -> str:
    """crash's value_to_symstr(): `name`, `name+off` (off as a signed long in decimal), or ""."""
    found = table.value_search(value)
    if found is None:
        return ""
    sym, offset = found
    offset &= MASK64
    if not offset:
        return sym.name
    if radix == 16:
        return f"{sym.name}+0x{offset:x}"
    return f"{sym.name}+{offset - (1 << 64) if offset >= 1 << 63 else offset}"


def format_line(
    insn: Insn,
    table: CrashSymtab,
    gdb_names: Callable[[int], bool],
    radix: int,
) -> str:
    """One line as crash prints it: gdb's text after x86_64_dis_filter().

    The symbol look-ups happen in crash's order (the leading address, the address at the end of the
    line, then value_symbol() of the leading address), because crash's look-ups remember where the
    previous one ended (symbols.c symval_hash_search)."""
    head = f"0x{insn.address:x} <{symstr(table, insn.address, radix)}>:\t"
    text = insn.text
    if insn.target is not None:
        if gdb_names(insn.target):
            text += f" <{symstr(table, insn.target, radix)}>"
        elif insn.mnemonic.startswith("j") and "#" not in text:
            name = symstr(table, insn.target, radix)
            if name:
                text += f" <{name}>"
    hit = table.value_search(insn.address)
    if (
        hit is not None
        and hit[1] == 0
        and ("nopl   0x0(%rax,%rax,1)" in text or "data32 data32 data32 xchg %ax,%ax" in text)
    ):
        text = text.rstrip() + " [FTRACE NOP]"
    return head + text


def _is_symbol_text(table: CrashSymtab, sym: CrashSymbol) -> bool:
    """crash's is_symbol_text(): a t/T symbol, or a weak one between _stext and _etext."""
    if sym.type in "tT":
        return True
    if sym.type in "wW":
        stext, etext = table.value_of("_stext"), table.value_of("_etext")
        return stext is not None and etext is not None and stext <= sym.value < etext
    return False


def _evaluate(session: Session, expr: str, table: CrashSymtab) -> int:
    notes: list[str] = []
    try:
        value = eval_expression(expr, table.value_of, notes)
    except DivisionByZero:
        value = None
        notes.append("division by zero")
    for note in notes:
        session.println(f"dis: {note}")
    if value is None:
        raise CommandError(f"invalid expression: {expr}")
    return value


def _read_code(prog: Program, start: int, end: int) -> bytes:
    """The bytes of [start, end) (and a little beyond when readable), from the dump's memory."""
    code = prog.read(start, end - start, what="text")
    try:
        code += prog.read(end, _READ_AHEAD, what="text")
    except FaultError:
        pass
    return code


@command("dis", summary="disassemble", help=HELP, minimal=True)
def cmd_dis(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage
    from crashpy.disasm.x86 import decode
    from crashpy.helpers.numbers import getopt
    from crashpy.symbols.crash_view import crash_symtab

    prog = session.prog
    if len(args) == 1 and args[0] == "-b":
        session.println("encoded bytes being skipped after ud2a: 0")
        return
    parsed = getopt(args, "dxhulsrfUb:B:w")
    for err in parsed.errors:
        session.println(f"dis: {err}")
    radix = 0
    unfiltered = user_mode = reverse = forward = lines = sources = bug = False
    bug_bytes_entered = False
    for opt, _val in parsed.opts:
        if opt == "d":
            if radix == 16:
                raise CommandError("-d and -x are mutually exclusive")
            radix = 10
        elif opt in "xh":
            if radix == 10:
                raise CommandError("-d and -x are mutually exclusive")
            radix = 16
        elif opt == "U":
            unfiltered = True
        elif opt == "u":
            if sources:
                raise CommandError("-s can only be used with kernel addresses")
            user_mode = True
        elif opt == "r":
            if forward:
                raise CommandError("-r and -f are mutually exclusive")
            if sources:
                raise CommandError("-r and -s are mutually exclusive")
            reverse = True
        elif opt == "f":
            if reverse:
                raise CommandError("-r and -f are mutually exclusive")
            if sources:
                raise CommandError("-f and -s are mutually exclusive")
            forward = True
        elif opt == "l":
            lines = True
        elif opt == "s":
            if reverse:
                raise CommandError("-r and -s are mutually exclusive")
            if forward:
                raise CommandError("-f and -s are mutually exclusive")
            if user_mode:
                raise CommandError("-s can only be used with kernel addresses")
            sources = True
        elif opt == "b":
            bug_bytes_entered = True
        elif opt == "B":
            bug_bytes_entered = True  # crash: bytes skipped after a ud2a, like -b
        elif opt == "w":
            bug = True
    if parsed.errors:
        print_usage(session, "dis")
        return
    no_dwarf = not session.prog.debuginfo
    if sources and no_dwarf:
        raise CommandError(NO_SOURCE_LINES.format(opt="-s"))
    if not radix:
        radix = session.radix
    if not parsed.args:
        if not bug_bytes_entered:
            print_usage(session, "dis")
        return

    table = crash_symtab(prog)
    arg = parsed.args[0]
    sym = None
    offset = 0
    function_only = False
    if can_eval(arg):
        addr = _evaluate(session, arg, table)
    elif hexadecimal(arg) and not table.exists(arg):
        notes: list[str] = []
        value = htol(arg, notes)
        if value is None:  # crash's htol(FAULT_ON_ERROR): its one line, and the command stops
            raise CommandError(notes[0] if notes else f'invalid input: "{arg}"')
        addr = value
        found = table.value_search(addr)
        if found is not None:
            sym, offset = found
        if not user_mode and found is None:
            session.println(f"WARNING: {addr:x}: no associated kernel symbol found")
            unfiltered = True
        if found is not None and not offset and _is_symbol_text(table, found[0]):
            function_only = True
    else:
        sym = table.search(arg)
        if sym is None:
            session.println(f"symbol not found: {arg}")
            session.println("possible alternatives:")
            found_any = table.query(arg)
            for s in found_any:
                from crashpy.commands.sym import format_symbol

                session.println("  " + format_symbol(s, 0, session.radix))
            if not found_any:
                session.println("  (none found)")
            return
        addr = sym.value
        if _is_symbol_text(table, sym):
            function_only = True

    count = 1
    count_entered = False
    if len(parsed.args) > 1:
        if forward:
            forward = False
        notes = []
        c = stol(parsed.args[1], notes)
        for note in notes:
            session.println(f"dis: {note}")
        if c is None:
            raise CommandError(f"invalid count argument: {parsed.args[1]}")
        if c == 0:
            raise CommandError("invalid count argument: 0")
        count = c
        function_only = False
        count_entered = True

    if sources:
        _list_source(session, addr)
        return
    if unfiltered or user_mode:
        # crash hands these to gdb as they are (x/<count>i), with nothing rewritten.
        _unfiltered(session, addr, count, user_mode, _bug_table(prog) if bug and not user_mode else {})
        return
    if not prog.is_kvaddr(addr):
        raise CommandError(f"{addr:x} is not a kernel virtual address")

    minsyms = gdb_minsyms(prog)
    kaslr = prog.kaslr_offset
    high = 0
    if reverse or forward or function_only:
        start_sym = sym.value if sym is not None else addr
        rng = None
        hit = table.value_search(start_sym)
        if hit is not None:
            r = minsyms.function_range(hit[0].value - kaslr)
            if r is not None and r[0] + kaslr <= start_sym < r[1] + kaslr:
                rng = (r[0] + kaslr, r[1] + kaslr)
        if rng is None:
            from crashpy.helpers.module_debuginfo import function_range

            rng = function_range(prog, start_sym)  # a module's function, its object file loaded (mod -s)
        if rng is not None:
            high = rng[1]
        elif sym is not None:
            nxt = table.next_symbol(sym)
            if nxt is None:
                raise CommandError(f"unable to determine symbol after {sym.name}")
            high = nxt.value
        else:
            found2 = table.value_search(addr)
            nxt = table.next_symbol(found2[0]) if found2 is not None else None
            if nxt is None:
                raise CommandError(f"gdb unable to disassemble kernel virtual address {addr:x}")
            high = nxt.value

    if lines and no_dwarf:
        from crashpy.dwarf.lines import module_lines

        if not module_lines(prog).covering(addr)[0]:  # a module whose debuginfo mod -s loaded has them
            session.println(f"dis: {NO_SOURCE_LINES.format(opt='-l')}")
            lines = False
    target = addr
    if reverse or forward:
        found3 = table.value_search(target)
        if found3 is None:
            raise CommandError(f"cannot resolve address: {target:x}")
        addr = found3[0].value

    # What gdb is asked to disassemble: the byte range, or a number of instructions.
    if reverse:
        end = None  # up to and including the first instruction at or after the target
        want = None
    elif count_entered:
        end = None
        want = count
    else:
        end = high if (forward or function_only) else None
        want = None if end is not None else 1
    try:
        if reverse:
            code = _read_code(prog, addr, max(target, addr) + 1)
        elif end is not None:
            code = _read_code(prog, addr, max(end, addr + 1))
        else:
            assert want is not None
            code = _read_code_count(prog, addr, min(want, _WINDOW))
    except FaultError as e:
        # gdb's memory reads fail (crash reports each, in the words of the fault: "read error",
        # "seek error", "page excluded"), and its line stays unfinished.
        kind = FaultKind.NOT_PRESENT if e.kind is FaultKind.INVALID else e.kind
        for _ in range(2):
            session.println(f"dis: {FaultError(addr, kind, AddressSpace.KVADDR, 'gdb_readmem_callback')}")
        session.write(f"0x{addr:x} <{symstr(table, addr, radix)}>:\t")
        return

    def gdb_names(value: int) -> bool:
        if minsyms.section_of(value - kaslr) is None:
            # No minimal symbol: crash's gdb asks crash for a module symbol (gdb_lookup_module_symbol).
            return table.module_value_search(value) is not None
        return minsyms.has_symbol(value - kaslr)

    bugs = _bug_table(prog) if bug else {}
    last_line = ""
    printed = 0
    insns = decode(code, addr)
    if want is not None and want > _WINDOW and end is None and not reverse:
        insns = _decode_on(prog, code, addr)  # a large count: read and decode a window at a time
    if reverse:
        # gdb disassembles from the function start; crash prints up to the line at or after the
        # target, or with a count only the last `count` of those lines (set_reverse_tmpfile_offset).
        upto: list[Insn] = []
        for insn in insns:
            upto.append(insn)
            if insn.address >= target:
                break
        if count_entered:
            upto = upto[-count:]
            count_entered = False
        insns = iter(upto)
    for insn in insns:
        if end is not None and insn.address >= end:
            break
        if forward and insn.address < target:
            continue
        if not reverse and not count_entered and high and insn.address >= high:
            break
        line = format_line(insn, table, gdb_names, radix)
        if bug and insn.mnemonic == "ud2" and insn.address in bugs:
            line += bugs[insn.address]
        if lines:
            src = _line_of(prog, table, insn.address)
            if src != last_line:
                session.println(src)
                last_line = src
        session.println(line)
        printed += 1
        if reverse and insn.address >= target:
            break
        if (count_entered and printed >= count) or (want is not None and printed >= want):
            break


def _user_reader(session: Session) -> Callable[[int, int], bytes]:
    """Reads from the user address space of the current context (crash's MEMTYPE_UVADDR)."""
    from crashpy.errors import AddressSpace, FaultKind

    prog = session.prog
    mm = session.current_context().mm
    pgd = 0
    if mm:
        pgd = prog.read_u64(mm + prog.offsetof("mm_struct", "pgd"))

    def read(addr: int, size: int) -> bytes:
        if not pgd:
            raise FaultError(addr, FaultKind.INVALID, AddressSpace.UVADDR)
        return prog.user_memory(pgd).read(addr, size)

    return read


def _unfiltered(session: Session, addr: int, count: int, user_mode: bool, bugs: dict[int, str]) -> None:
    """gdb's own x/<count>i output: `   0x<addr>:\t<insn>`; where memory ends, gdb's line stays
    unfinished and its error is not shown (crash runs it with GNU_RETURN_ON_ERROR)."""
    from crashpy.disasm.x86 import decode_one
    from crashpy.errors import AddressSpace

    prog = session.prog
    reader: Callable[[int, int], bytes]
    if user_mode:
        reader = _user_reader(session)
    else:

        def reader(a: int, n: int) -> bytes:
            return prog.read(a, n, what="text")

    cur = addr
    for _ in range(count):
        code = b""
        fault: FaultError | None = None
        for size in (15, min(15, 4096 - (cur & 4095))):  # all of it, else up to the page's end
            try:
                code = reader(cur, size)
                break
            except FaultError as e:
                fault = e
        insn = decode_one(code, cur) if code else None
        if insn is None or (insn.text == "(bad)  " and len(code) < 15):
            session.write(f"   0x{cur:x}:\t")
            if user_mode and fault is not None:
                # crash reports gdb's two failed reads: its 64-byte cache line, then the address
                # (kernel reads here go unreported)
                for at in (cur & ~0x3F, cur):
                    fail = FaultError(at, fault.kind, AddressSpace.UVADDR, "gdb_readmem_callback")
                    session.println(f"dis: {fail.message()}")
            return
        note = bugs[cur] if insn.mnemonic == "ud2" and cur in bugs else ""
        session.println(f"   0x{cur:x}:\t{insn.text}{note}")
        cur += insn.size


_WINDOW = 4096  # instructions read and decoded at a time for a count


def _decode_on(prog: Program, code: bytes, addr: int) -> Iterator[Insn]:
    """The instructions from `addr` on, for as long as memory can be read: `code` (the first window)
    decoded, then the next window read from where its last whole instruction ended."""
    from crashpy.disasm.x86 import decode

    while code:
        full = len(code) >= 15 * _WINDOW  # a window cut by the read size, not by the end of memory
        resume = addr
        for insn in decode(code, addr):
            if full and insn.address + 15 + _READ_AHEAD > addr + len(code):
                break  # it may continue past the window: decode it again from the next one
            yield insn
            resume = insn.address + insn.size
        if not full or resume == addr:
            return
        addr = resume
        try:
            code = _read_code_count(prog, addr, _WINDOW)
        except FaultError:
            return


def _read_code_count(prog: Program, addr: int, count: int) -> bytes:
    """Enough bytes for `count` instructions (15 bytes at most each), as far as memory goes."""
    want = 15 * count + _READ_AHEAD
    parts: list[bytes] = []
    got = 0
    cur = addr
    while got < want:
        chunk = min(want - got, 4096 - (cur & 4095))
        try:
            parts.append(prog.read(cur, chunk, what="text"))
        except FaultError:
            if not parts:
                raise
            break
        got += chunk
        cur += chunk
    return b"".join(parts)


NO_SOURCE_LINES = (
    "{opt}: no source lines: they come from the debug vmlinux's DWARF, and this session has only the "
    "dump's kallsyms, BTF and ORC"
)


def _line_of(prog: Program, table: CrashSymtab, addr: int) -> str:
    """crash's get_line_number(): "file: line" of a kernel text address, "" without one."""
    from crashpy.dwarf.lines import source_line

    if not table.is_kernel_text(addr):
        return ""
    table.value_search(addr)
    return source_line(prog, addr)


def _list_source(session: Session, addr: int) -> None:
    """dis -s: crash's list_source_code() when the source files are not on this machine."""
    from crashpy.dwarf.lines import source_line

    prog = session.prog
    text = source_line(prog, addr)
    if not text:
        raise CommandError(f"{addr:x}: line number information is not available")
    path, _, line = text.rpartition(": ")
    short = path
    build = _build_directory(path)
    if build and short.startswith(build):
        short = short[len(build) :]
    session.println(f"FILE: {short}")
    session.println(f"LINE: {line}")
    session.println("")
    name = symstr(crash_symtab_of(prog), addr, session.radix)
    raise CommandError(f"{name}: source code is not available\n")


def crash_symtab_of(prog: Program) -> CrashSymtab:
    from crashpy.symbols.crash_view import crash_symtab

    return crash_symtab(prog)


def _build_directory(path: str) -> str:
    """The build directory prefix of a source path (up to and including the kernel tree root)."""
    for marker in ("/drivers/", "/kernel/", "/mm/", "/fs/", "/arch/", "/include/", "/lib/", "/net/", "/init/",
                   "/block/", "/security/", "/crypto/", "/sound/", "/ipc/", "/virt/", "/certs/"):  # fmt: skip
        k = path.find(marker)
        if k >= 0:
            return path[: k + 1]
    return ""


def _bug_table(prog: Program) -> dict[int, str]:
    from crashpy.disasm.bug import bug_table

    try:
        return {e.address: e.note for e in bug_table(prog)}
    except CrashpyError:  # no readable bug table: no BUG notes
        return {}
