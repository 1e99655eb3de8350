"""sbitmapq: a struct sbitmap_queue's state and busy bits, or the array entries its busy bits index.

Laid out as crash 8.0.6's cmd_sbitmapq (sbitmap.c: sbitmap_queue_show, sbitmap_bitmap_show,
sbitmap_data_print); the kernel knowledge is in helpers/sbitmap.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.errors import CommandError, CrashpyError, FaultError
from crashpy.helpers import sbitmap as sbm
from crashpy.helpers.crash_reads import read_as_crash
from crashpy.helpers.numbers import getopt, htol, is_a_number, radix_option

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  sbitmapq - sbitmap_queue struct contents

SYNOPSIS
  sbitmapq [-s struct[.member[,member]] -a address [-p] [-v]] -[x|d] address

DESCRIPTION
  Shows the struct sbitmap_queue at the given kernel address: its depth,
  how many bits are busy and cleared, the word layout, each CPU's
  allocation hint, the wake-up batch and index, its eight wait queues
  (their counters and whether anything waits on them), and then the busy
  bits themselves as a hexadecimal byte dump.

  With -s and -a, the busy bits are taken as indexes into an array of the
  named structure, and the entries they select are listed instead.

    -s struct[.member[,member]]
               the array's element type; with members, only those members
               are shown of each entry (with -v).
    -a address the address of the array (hexadecimal).
    -p         the array holds pointers to the structures.
    -v         show each selected entry's contents, not only its address.
    -x         show the contents' integers in hexadecimal.
    -d         show the contents' integers in decimal.
    address    the address of the struct sbitmap_queue (hexadecimal).

EXAMPLES
  The tag bitmap of a disk's first hardware queue: no tag in use, 52 tags
  freed but not yet returned to their words (6.1 keeps no wait counts):

    crash> sbitmapq ffff8880054ec9d0
    depth = 256
    busy = 0
    cleared = 52
    bits_per_word = 64
    map_nr = 4
    alloc_hint = {243, 182}
    wake_batch = 8
    wake_index = 0
    ws_active = 0
    ws = {
            { .wait = inactive },
      (seven more)
    }
    round_robin = 0
    (then min_shallow_depth)

    00000000: 0000 0000 0000 0000 0000 0000 0000 0000
    00000010: 0000 0000 0000 0000 0000 0000 0000 0000
"""


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "sbitmapq")


def _queue_text(prog: Program, q: sbm.SbitmapQueue) -> str:
    sb = q.sb
    has_cleared = prog.has_member("sbitmap_word", "cleared")
    busy = sbm.weight(sb) - (sbm.weight(sb, cleared=True) if has_cleared else 0)
    out = [f"depth = {sb.depth}\n", f"busy = {busy & 0xFFFFFFFF}\n"]
    if has_cleared:
        out.append(f"cleared = {sbm.weight(sb, cleared=True)}\n")
    out.append(f"bits_per_word = {(1 << sb.shift) & 0xFFFFFFFF}\n")
    out.append(f"map_nr = {sb.map_nr}\n")
    out.append("alloc_hint = {" + ", ".join(str(h) for h in sbm.alloc_hints(prog, q)) + "}\n")
    out.append(f"wake_batch = {q.wake_batch}\n")
    out.append(f"wake_index = {q.wake_index}\n")
    if q.ws_active is not None:
        out.append(f"ws_active = {q.ws_active}\n")
    out.append("ws = {\n")
    for cnt, active in sbm.wait_states(prog, q):
        # crash 8.0.6 stops here when sbq_wait_state has no wait_cnt; crashpy shows the wait state alone
        count = "" if cnt is None else f".wait_cnt = {cnt}, "
        out.append(f"\t{{ {count}.wait = {'active' if active else 'inactive'} }},\n")
    out.append("}\n")
    rr = q.round_robin if q.round_robin is not None else sb.round_robin
    if rr is not None:
        out.append(f"round_robin = {int(rr)}\n")
    if q.min_shallow_depth is not None:
        out.append(f"min_shallow_depth = {q.min_shallow_depth}\n")
    out.append("\n")
    data = sbm.bitmap_bytes(sb)
    line = ""
    for offset, byte in enumerate(data):
        if offset & 0xF == 0:
            if offset:
                out.append(line + "\n")
            line = f"{offset:08x}:"
        if offset & 1 == 0:
            line += " "
        line += f"{byte:02x}"
    if data:
        out.append(line + "\n")
    return "".join(out)


def _struct_size(session: Session, name: str) -> int:
    from crashpy.object import lookup_type, sizeof

    for spelling in (f"struct {name}", f"union {name}", name):
        try:
            return sizeof(lookup_type(session.prog, spelling))
        except CrashpyError:
            continue
    return -1


def _show_entry(session: Session, name: str, addr: int, radix: int) -> None:
    """crash's dump_struct() / dump_struct_member(): the entry as `struct name[.members] addr` prints it."""
    from crashpy.commands.struct import datatype_common

    args = [name, f"{addr:x}"]
    if radix == 16:
        args.insert(0, "-x")
    elif radix == 10:
        args.insert(0, "-d")
    if "." in name:
        struct, members = name.split(".", 1)
        for member in members.replace(",", " ").split():
            datatype_common(session, [*args[:-2], f"{struct}.{member}", args[-1]], "struct")
        return
    datatype_common(session, args, "struct")


def _data_dump(
    session: Session, addr: int, name: str, array: int, size: int, pointers: bool, verbose: bool, radix: int
) -> None:
    prog = session.prog
    q = sbm.load_queue(prog, addr)
    step = 8 if pointers else size
    for idx in sbm.set_bits(q.sb):
        entry = array + step * idx
        if not verbose:
            session.write(f"{idx}: 0x{entry:08x}\n")
            continue
        session.write(f"{idx} (0x{entry:08x}):\n")
        if pointers:
            try:
                entry = int.from_bytes(read_as_crash(prog, entry, 8, what="read point of data"), "little")
            except FaultError as e:
                session.println(f"sbitmapq: {e.message()}")
                session.println(f"sbitmapq: Failed to read the point of data: 0x{entry:08x}")
                return
        _show_entry(session, name, entry, radix)


@command("sbitmapq", summary="sbitmap_queue struct contents", help=HELP)
def cmd_sbitmapq(session: Session, args: list[str]) -> None:
    prog = session.prog
    parsed = getopt(args, "s:a:pxdv")
    errors = iter(parsed.errors)
    argerrs = 0
    name: str | None = None
    array: int | None = None
    pointers = verbose = False
    radix = 0
    for c, optarg in parsed.opts:
        if c == "?":
            session.println(f"sbitmapq: {next(errors, 'invalid option')}")
            argerrs += 1
        elif c == "s":
            if name is not None:
                raise CommandError(f"-s option ({name}) already entered")
            name = optarg or ""
        elif c == "a":
            text = optarg or ""
            if array is not None:
                raise CommandError(f"-a option (0x{array:x}) already entered")
            if not is_a_number(text):
                raise CommandError(f"invalid -a option: {text}")
            array = _hex(text)
            if not prog.is_kvaddr(array):
                raise CommandError(f"invalid kernel virtual address: {text}")
        elif c == "p":
            pointers = True
        elif c == "v":
            verbose = True
        elif c in "xd":
            radix = radix_option(radix, 16 if c == "x" else 10)
    if argerrs:
        _usage(session)
        return
    if not parsed.args:
        session.println("sbitmapq: command argument is required")
        _usage(session)
        return
    if len(parsed.args) > 1:
        session.println("sbitmapq: too many arguments")
        _usage(session)
        return
    if not is_a_number(parsed.args[0]):
        raise CommandError(f"invalid command argument: {parsed.args[0]}")
    addr = _hex(parsed.args[0])
    if not prog.is_kvaddr(addr):
        raise CommandError(f"invalid kernel virtual address: {parsed.args[0]}")
    if name is not None and array is None:
        session.println("sbitmapq: -s option requires -a option")
        _usage(session)
        return
    if array is not None and name is None:
        session.println("sbitmapq: -a option is used with -s option only")
        _usage(session)
        return
    if pointers and array is None:
        session.println("sbitmapq: -p option requires -a option")
        _usage(session)
        return
    size = 0
    if name is not None:
        size = _struct_size(session, name.split(".", 1)[0])
        if size <= 0:
            raise CommandError(f"invalid data structure reference: {name}")
    if not sbm.has_sbitmap(prog):
        raise CommandError("command not supported or applicable on this architecture or kernel")
    try:
        if name is not None and array is not None:
            _data_dump(session, addr, name, array, size, pointers, verbose, radix)
        else:
            session.write(_queue_text(prog, sbm.load_queue(prog, addr)))
    except sbm.SbitmapReadError as e:
        session.println(f"sbitmapq: {e.fault.message()}")
        raise


def _hex(text: str) -> int:
    notes: list[str] = []
    value = htol(text, notes)
    if value is None:
        raise CommandError(notes[0] if notes else f"invalid input: {text}")
    return value
