"""rd: display memory as crash does (memory.c cmd_rd, display_memory).

Memory is read a page span at a time, not item by item; the text is crash's, item for item: when an
item cannot be read, what was printed before it stays (a line may be left unfinished) and crash's
one-line fault message follows.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.errors import AddressSpace, CommandError, FaultError, FaultKind
from crashpy.helpers.numbers import (
    MASK64,
    crash_args,
    eval_expression,
    getopt,
    hexadecimal,
    htoll,
    stol,
)

if TYPE_CHECKING:
    from crashpy.session import Session

PAGE_SIZE = 4096
VADDR_PRLEN = 16

# display_memory() flags (memory.c)
DISPLAY_8 = 0x2
DISPLAY_16 = 0x4
DISPLAY_32 = 0x8
DISPLAY_64 = 0x10
SYMBOLIC = 0x40
HEXADECIMAL = 0x80
DECIMAL = 0x100
UDECIMAL = 0x200
ASCII_ENDLINE = 0x400
NO_ASCII = 0x800
SLAB_CACHE = 0x1000
DISPLAY_ASCII = 0x2000
NET_ENDIAN = 0x4000
DISPLAY_RAW = 0x8000
SHOW_OFFSET = 0x10000
SLAB_CACHE2 = 0x20000
DISPLAY_TYPES = DISPLAY_RAW | DISPLAY_ASCII | DISPLAY_8 | DISPLAY_16 | DISPLAY_32 | DISPLAY_64
DISPLAY_DEFAULT = DISPLAY_64
ASCII_UNLIMITED = (1 << 63) - 1

# per display type: (bytes per item, items per line, column where the ASCII text starts)
_LAYOUT = {
    DISPLAY_64: (8, 2, 37 + VADDR_PRLEN),
    DISPLAY_32: (4, 4, 39 + VADDR_PRLEN),
    DISPLAY_16: (2, 8, 43 + VADDR_PRLEN),
    DISPLAY_8: (1, 16, 51 + VADDR_PRLEN),
    DISPLAY_ASCII: (1, 60, 0),
    DISPLAY_RAW: (1, 1, 0),
}

_SPACE_NAMES = {
    AddressSpace.KVADDR: "KVADDR",
    AddressSpace.UVADDR: "UVADDR",
    AddressSpace.PHYSADDR: "PHYSADDR",
}
FILEADDR = "FILEADDR"

_CHUNK = 64 * 1024  # bytes read at once
_LAYOUT_FAST = (DISPLAY_64, DISPLAY_32, DISPLAY_16, DISPLAY_8)


def _ascii_byte(b: int) -> str:
    return chr(b) if 0x20 <= b < 0x7F else "."


def _printable(b: int) -> bool:
    """isprint() in the C locale."""
    return 0x20 <= b < 0x7F


def readtype(flag: int, space_name: str) -> str:
    """crash's `type` string for a read: "64-bit KVADDR", "ascii", ..."""
    kind = flag & DISPLAY_TYPES
    if kind == DISPLAY_ASCII:
        return "ascii"
    if kind == DISPLAY_RAW:
        return "raw dump to file"
    bits = {DISPLAY_64: 64, DISPLAY_32: 32, DISPLAY_16: 16, DISPLAY_8: 8}[kind]
    return f"{bits}-bit {space_name}"


ReadSpan = Callable[[int, int], tuple[bytes, "FaultError | None"]]


def items(
    read: ReadSpan, addr: int, count: int, size: int, chunk: int = _CHUNK
) -> Iterator[tuple[int, bytes] | FaultError]:
    """(address, bytes) of `count` items of `size` bytes from `addr`, read a span at a time;
    a FaultError for the first item that cannot be read, restated at the address crash names."""
    done = 0
    while done < count:
        n = min(count - done, max(1, chunk // size))
        start = (addr + done * size) & MASK64
        data, fault = read(start, n * size)
        whole = len(data) // size
        for k in range(whole):
            yield (start + k * size) & MASK64, data[k * size : (k + 1) * size]
        if fault is not None and whole < n:
            item = (start + whole * size) & MASK64
            yield fault.with_context(max(item, fault.address), fault.space, fault.what)
            return
        done += n


@dataclass(frozen=True)
class LostItem:
    """An item crash could not read but went on past (dump file offsets): its error line."""

    message: str


Entry = tuple[int, bytes] | FaultError | LostItem


@dataclass
class Display:
    """What display_memory() prints for one rd."""

    flag: int
    symstr: Callable[[int], str] | None = None  # value_to_symstr for -s (crash's in_ksymbol_range gate)

    def render(self, source: Iterator[Entry], count: int) -> Iterator[str]:
        """Text pieces, in order; a FaultError raised after the text printed before it, a LostItem's
        error line printed where it happened."""
        flag = self.flag
        kind = flag & DISPLAY_TYPES
        _size, per_line, ascii_start = _LAYOUT[kind]
        hexchars: list[str] = []
        linelen = 0
        displayed = 0
        a = 0
        i = 0
        lost = 0
        for entry in source:
            if isinstance(entry, FaultError):
                raise entry
            if isinstance(entry, LostItem):
                yield f"rd: {entry.message}\n"
                lost += 1
                i += 1
                continue
            addr, raw = entry
            if kind != DISPLAY_ASCII and (i - lost) % per_line == 0:
                if i - lost:
                    yield ("  " + "".join(hexchars) + "\n") if flag & ASCII_ENDLINE else "\n"
                yield f"{addr:>{VADDR_PRLEN}x}:  "
                hexchars = []
                linelen = VADDR_PRLEN + 3
            if kind == DISPLAY_64:
                value = int.from_bytes(raw, "little")
                piece = None
                if (
                    flag & (HEXADECIMAL | SYMBOLIC | DISPLAY_DEFAULT)
                    == HEXADECIMAL | SYMBOLIC | DISPLAY_DEFAULT
                ):
                    sym = self.symstr(value) if self.symstr is not None else ""
                    if sym:
                        piece = f"{sym:<16} "
                        linelen += len(sym) + 1
                if piece is not None:
                    yield piece
                elif flag & HEXADECIMAL:
                    yield f"{value:016x} "
                    linelen += 17
                elif flag & DECIMAL:
                    signed = value - (1 << 64) if value >> 63 else value
                    yield f"{signed:15d} "
                elif flag & UDECIMAL:
                    yield f"{value:20d} "
            elif kind == DISPLAY_32:
                value = int.from_bytes(raw, "little")
                if flag & NET_ENDIAN:
                    raw = raw[::-1]
                    value = int.from_bytes(raw, "little")
                if flag & HEXADECIMAL:
                    yield f"{value:08x} "
                    linelen += 9
                elif flag & DECIMAL:
                    signed = value - (1 << 32) if value >> 31 else value
                    yield f"{signed:12d} "
                elif flag & UDECIMAL:
                    yield f"{value:12d} "
            elif kind == DISPLAY_16:
                if flag & NET_ENDIAN:
                    raw = raw[::-1]
                value = int.from_bytes(raw, "little")
                if flag & HEXADECIMAL:
                    yield f"{value:04x} "
                    linelen += 5
                elif flag & (DECIMAL | UDECIMAL):
                    yield f"{value:5d} "
            elif kind == DISPLAY_8:
                value = raw[0]
                if flag & HEXADECIMAL:
                    yield f"{value:02x} "
                    linelen += 3
                elif flag & (DECIMAL | UDECIMAL):
                    yield f"{value:3d} "
            else:  # DISPLAY_ASCII
                b = raw[0]
                if _printable(b):
                    if a % per_line == 0:
                        if displayed and i:
                            yield "\n"
                        yield f"{addr:>{VADDR_PRLEN}x}:  "
                    yield chr(b)
                    displayed += 1
                    a += 1
                else:
                    if count == ASCII_UNLIMITED:
                        return
                    a = 0
            if flag & HEXADECIMAL and kind != DISPLAY_ASCII:
                hexchars.extend(_ascii_byte(b) for b in raw)
            i += 1
        if flag & ASCII_ENDLINE and hexchars:
            yield " " * max(0, ascii_start - linelen) + "  " + "".join(hexchars)
        if lost != count:
            yield "\n"


_ASCII_TABLE = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))
_FAST_CODES = {8: ("Q", "016x"), 4: ("I", "08x"), 2: ("H", "04x"), 1: ("B", "02x")}


def fast_hex_lines(data: bytes, addr: int, flag: int) -> str:
    """Whole lines of plain hex display (no -s, no -N, no decimal), formatted a line at a time: the same
    text as Display.render for those flags, without its per-item loop."""
    size, per_line, _ascii_start = _LAYOUT[flag & DISPLAY_TYPES]
    code, fmt = _FAST_CODES[size]
    line_bytes = size * per_line
    unpack = struct.Struct(f"<{per_line}{code}").unpack_from
    item = f"{{:{fmt}}} "
    row = item * per_line
    with_ascii = bool(flag & ASCII_ENDLINE)
    out = []
    for off in range(0, len(data) - len(data) % line_bytes, line_bytes):
        text = f"{(addr + off) & MASK64:>{VADDR_PRLEN}x}:  " + row.format(*unpack(data, off))
        if with_ascii:
            text += "  " + data[off : off + line_bytes].translate(_ASCII_TABLE).decode("latin-1")
        out.append(text + "\n")
    return "".join(out)


def format_memory(data: bytes, addr: int, flag: int, symstr: Callable[[int], str] | None = None) -> str:
    """display_memory()'s text for `data` read at `addr` (for tests and callers with bytes in hand)."""
    size = _LAYOUT[flag & DISPLAY_TYPES][0]
    count = len(data) // size

    def src() -> Iterator[tuple[int, bytes] | FaultError]:
        for k in range(count):
            yield addr + k * size, data[k * size : (k + 1) * size]

    return "".join(Display(flag, symstr=symstr).render(src(), count))


HELP = """\
NAME
  rd - read memory

SYNOPSIS
  rd [-adDsSupxmfNR][-8|-16|-32|-64][-o offs][-e addr][-r file][address|symbol]
     [count]

DESCRIPTION
  Shows the contents of memory in one of several formats.  The start may be given
  as an address or a symbol.  By default one long-sized value is shown in
  hexadecimal, followed by its ASCII translation at the end of the line.

       -p  read physical memory at the address.
       -u  read the current task's user memory at the address; needed only
           where user and kernel addresses can be the same numbers.
       -m  read xen host machine memory at the address.
       -f  read the dump file itself, at this byte offset.
       -d  show signed decimal values instead of hexadecimal.
       -D  show unsigned decimal values instead of hexadecimal.
       -s  show values that are kernel addresses as symbol+offset.
    -S[S]  like -s, and values that point into a slab cache object show the
           cache's name in brackets; given twice, the value too.
       -x  no ASCII column at the end of each line.
       -8  one byte per value.
      -16  two bytes per value.
      -32  four bytes per value; what 32-bit machines use by default.
      -64  eight bytes per value; what 64-bit machines use by default.
       -a  show printable ASCII characters; without a count, stop at the first
           character that is not printable.
       -N  show 16- and 32-bit values in network byte order.
       -R  show memory backwards, ending with (and including) the address; the
           count must be more than 1 to show anything before it.
  -o offs  begin offs bytes past the address.
  -e addr  show memory up to this hexadecimal end address.
  -r file  copy the raw bytes to a file; a count (in bytes) or -e is required.
  address  where to begin, in hexadecimal; taken as
             1. a kernel virtual address by default.
             2. a physical address with -p.
             3. a user virtual address with -u, needed only where user and
                kernel virtual addresses overlap.
   symbol  a symbol whose address is the start.
    count  how many values to show; if given it comes last on the line.  It
           defaults to 1, or to no limit with -a; with -r it counts bytes.

EXAMPLES
  The version banner, read as text:

    crash> rd -a linux_banner
    ffffffff8211ffe0:  Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian
    ffffffff8212001c:  .org) ...

  The same memory as 64-bit, 32-bit, 16-bit and 8-bit values:

    crash> rd -64 linux_banner 2
    ffffffff8211ffe0:  65762078756e694c 362e36206e6f6973   Linux version 6.
    crash> rd -32 linux_banner 4
    ffffffff8211ffe0:  756e694c 65762078 6f697372 2e36206e   Linux version 6.
    crash> rd -16 linux_banner 8
    ffffffff8211ffe0:  694c 756e 2078 6576 7372 6f69 206e 2e36   Linux version 6.
    crash> rd -8 linux_banner 16
    ffffffff8211ffe0:  4c 69 6e 75 78 20 76 65 72 73 69 6f 6e 20 36 2e   Linux version 6.

  Values shown as symbols where they are kernel addresses:

    crash> rd -s sys_call_table 4
    ffffffff82000360:  __x64_sys_read   __x64_sys_write
    ffffffff82000370:  __x64_sys_open   __x64_sys_close

  Memory from one address up to another:

    crash> rd ffffffff8211ffe0 -e ffffffff8211fff8
"""


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "rd")


def _symbol_not_found(session: Session, name: str) -> None:
    from crashpy.commands.sym import format_symbol
    from crashpy.symbols.crash_view import crash_symtab

    session.println(f"symbol not found: {name}")
    session.println("possible alternatives:")
    found = crash_symtab(session.prog).query(name)
    for sym in found:
        session.println("  " + format_symbol(sym, 0, session.radix))
    if not found:
        session.println("  (none found)")


def _span_reader(session: Session, space: AddressSpace | str, what: str) -> ReadSpan:
    """read(start, n) -> (the bytes readable from start, the fault that stopped it or None)."""
    prog = session.prog
    if not isinstance(space, AddressSpace):  # FILEADDR, for rd -f -r
        path = prog.dump_path

        def read_file(start: int, n: int) -> tuple[bytes, FaultError | None]:
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read(n)
            if len(data) < n:
                return data, FaultError(start + len(data), FaultKind.SEEK, AddressSpace.PHYSADDR, what)
            return data, None

        return read_file

    def read_span(start: int, n: int) -> tuple[bytes, FaultError | None]:
        out = bytearray()
        cur = start
        end = start + n
        while cur < end:
            chunk = min(end - cur, PAGE_SIZE - (cur & (PAGE_SIZE - 1)))
            try:
                if space is AddressSpace.UVADDR:
                    # No task context yet: crash's words for a user address it cannot translate.
                    raise FaultError(cur, FaultKind.INVALID, space, what)
                if space is AddressSpace.KVADDR and cur > MASK64:
                    raise FaultError(cur & MASK64, FaultKind.INVALID, space, what)
                out += prog.read(cur, chunk, space, what)
            except FaultError as e:
                if prog.crash_reads_zeros(e):  # a page makedumpfile -E left out: crash shows zeros
                    out += bytes(chunk)
                    cur += chunk
                    continue
                if e.kind is FaultKind.TRUNCATED:
                    out += _surviving_prefix(cur, chunk)
                return bytes(out), e.with_context(cur, space, what)
            cur += chunk
        return bytes(out), None

    def _surviving_prefix(addr: int, size: int) -> bytes:
        """The bytes of a page cut by the end of a truncated ELF dump that the file still holds: crash
        reads an item at a time, so the items before the cut show (found by halving, ~12 reads)."""
        lo, hi = 0, size  # lo bytes read; hi bytes do not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                prog.read(addr, mid, space, what)
                lo = mid
            except FaultError:
                hi = mid
        return prog.read(addr, lo, space, what) if lo else b""

    return read_span


@command("rd", summary="read memory", help=HELP, minimal=True)
def cmd_rd(session: Session, args: list[str]) -> None:
    from crashpy.symbols.crash_view import crash_symtab

    prog = session.prog
    args = crash_args(args)
    flag = HEXADECIMAL | DISPLAY_DEFAULT
    endaddr = 0
    offset = 0
    space: AddressSpace | str = AddressSpace.KVADDR
    outputfile: str | None = None
    reverse = False
    argerrs = 0
    parsed = getopt(args, "Raxme:r:pfudDusSNo:81:3:6:")
    for err in parsed.errors:
        session.println(f"rd: {err}")
        argerrs += 1
    notes: list[str] = []

    def fatal_notes() -> CommandError:
        for note in notes[:-1]:
            session.println(f"rd: {note}")
        return CommandError(notes[-1] if notes else "invalid argument")

    for c, optarg in parsed.opts:
        if c == "R":
            reverse = True
        elif c == "a":
            flag = (flag & ~DISPLAY_TYPES) | DISPLAY_ASCII
        elif c == "8":
            flag = (flag & ~DISPLAY_TYPES) | DISPLAY_8
        elif c in "136":
            want = {"1": ("6", DISPLAY_16), "3": ("2", DISPLAY_32), "6": ("4", DISPLAY_64)}[c]
            if optarg != want[0]:
                session.println(f"rd: invalid option: {c}{optarg}")
                argerrs += 1
            else:
                flag = (flag & ~DISPLAY_TYPES) | want[1]
        elif c == "e":
            v = htoll(optarg or "", notes)
            if v is None:
                raise fatal_notes()
            endaddr = v
        elif c == "r":
            flag = (flag & ~DISPLAY_TYPES) | DISPLAY_RAW
            outputfile = optarg or ""
            try:
                open(outputfile, "wb").close()
            except OSError:
                raise CommandError(f"cannot open output file: {outputfile}") from None
        elif c in "sS":
            if flag & DISPLAY_DEFAULT:
                flag |= SYMBOLIC
                if c == "S":
                    flag |= SLAB_CACHE2 if flag & SLAB_CACHE else SLAB_CACHE
            else:
                session.println(f"rd: -{c} option is only allowed with 64-bit display")
                argerrs += 1
        elif c == "o":
            v = stol(optarg or "", notes)
            if v is None:
                raise fatal_notes()
            offset = v
            flag |= SHOW_OFFSET
        elif c == "p":
            space = AddressSpace.PHYSADDR
        elif c == "u":
            space = AddressSpace.UVADDR
        elif c == "d":
            flag = (flag & ~(HEXADECIMAL | DECIMAL)) | DECIMAL
        elif c == "D":
            flag = (flag & ~(HEXADECIMAL | UDECIMAL)) | UDECIMAL
        elif c == "m":
            raise CommandError("-m option only applies to xen architecture")
        elif c == "f":
            space = FILEADDR
        elif c == "x":
            flag |= NO_ASCII
        elif c == "N":
            flag |= NET_ENDIAN
        else:
            argerrs += 1
    rest = parsed.args
    if argerrs or not rest:
        _usage(session)
        return
    table = crash_symtab(prog)
    target = rest[0]
    if target.startswith("("):
        addr = eval_expression(target, table.value_of, notes)
        for note in notes:
            session.println(f"rd: {note}")
        if addr is None:
            raise CommandError(f"invalid expression: {target}")
    elif hexadecimal(target):
        v = htoll(target, notes)
        if v is None:
            raise fatal_notes()
        addr = v
    else:
        sym = table.search(target)
        if sym is None:
            _symbol_not_found(session, target)
            return
        addr = sym.value
    if flag & SHOW_OFFSET:
        addr = (addr + offset) & MASK64
    count = -1
    if len(rest) > 1:
        v = stol(rest[1], notes)
        if v is None:
            raise fatal_notes()
        count = v if v < 1 << 63 else v - (1 << 64)
    kind = flag & DISPLAY_TYPES
    size = _LAYOUT[kind][0]
    if count == -1:
        if endaddr:
            if endaddr <= addr:
                raise CommandError(f"invalid ending address: {endaddr:x}")
            bcnt = endaddr - addr
            count = bcnt // size
            if bcnt == 0:
                count = 1
        else:
            if kind == DISPLAY_RAW:
                raise CommandError("-r option requires either a count argument or the -e option")
            count = ASCII_UNLIMITED if flag & DISPLAY_ASCII else 1
    elif endaddr:
        session.println("WARNING: ending address ignored when count is specified")
    if flag & HEXADECIMAL and not flag & (SYMBOLIC | NO_ASCII | DISPLAY_ASCII):
        flag |= ASCII_ENDLINE
    if space is AddressSpace.KVADDR and not _is_kvaddr(session, addr):
        space = AddressSpace.UVADDR
    if reverse:
        if not count:
            count = 1
        if count > 1:
            addr = (addr - (count * size - size)) & MASK64
    if count <= 0:
        raise CommandError(f"invalid count request: {count}")
    space_name = space if isinstance(space, str) else _SPACE_NAMES.get(space, "KVADDR")
    what = readtype(flag, space_name)
    read = _span_reader(session, space, what)
    if kind == DISPLAY_RAW:
        _raw_to_file(session, read, addr, count, outputfile or "")
        return

    def symstr(value: int) -> str:
        return table.value_to_symstr(value, session.radix)

    plain_hex = flag & (HEXADECIMAL | SYMBOLIC | NET_ENDIAN) == HEXADECIMAL and kind in _LAYOUT_FAST
    if plain_hex and space != FILEADDR and count * size <= 1 << 24:
        data, fault = read(addr, count * size)
        if fault is None:
            line_bytes = size * _LAYOUT[kind][1]
            whole = len(data) - len(data) % line_bytes
            text = fast_hex_lines(data[:whole], addr, flag)
            if whole < len(data):
                text += format_memory(data[whole:], (addr + whole) & MASK64, flag)
            session.write(text)
            return
    display = Display(flag, symstr)
    buf: list[str] = []
    size_so_far = 0
    try:
        # `rd -a` stops at the first unprintable byte: read it a page at a time, not 64 KB ahead.
        chunk = PAGE_SIZE if kind == DISPLAY_ASCII else _CHUNK
        if space == FILEADDR:
            source = file_items(prog.dump_path, addr, count, size, what)
        else:
            source = items(read, addr, count, size, chunk)
        for piece in display.render(source, count):
            buf.append(piece)
            size_so_far += len(piece)
            if size_so_far > 1 << 16:
                session.write("".join(buf))
                buf.clear()
                size_so_far = 0
    finally:
        session.write("".join(buf))


def file_items(path: str, addr: int, count: int, size: int, what: str) -> Iterator[Entry]:
    """Items at dump file offsets (rd -f); crash reports each unreadable one and goes on."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        file_size = f.tell()
        done = 0
        while done < count:
            n = min(count - done, max(1, _CHUNK // size))
            start = addr + done * size
            data = b""
            if start < file_size and start < 1 << 63:
                f.seek(start)
                data = f.read(n * size)
            for k in range(n):
                item = (start + k * size) & MASK64
                if item >= 1 << 63:
                    yield LostItem(f'seek error: dumpfile address: {item:x}  type: "{what}"')
                elif (k + 1) * size <= len(data):
                    yield item, data[k * size : (k + 1) * size]
                else:
                    yield LostItem(f'read error: dumpfile address: {item:x}  type: "{what}"')
            done += n


def _is_kvaddr(session: Session, addr: int) -> bool:
    """x86_64's IS_KVADDR: at or above the direct map's start (PAGE_OFFSET)."""
    return session.prog.is_kvaddr(addr)


def _raw_to_file(session: Session, read: ReadSpan, addr: int, count: int, path: str) -> None:
    with open(path, "wb") as f:
        done = 0
        while done < count:
            n = min(count - done, _CHUNK)
            data, fault = read((addr + done) & MASK64, n)
            f.write(data)
            if fault is not None:
                raise fault
            done += n
    session.println(f"{count} bytes copied from 0x{addr:x} to {path}")
