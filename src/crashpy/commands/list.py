"""list: follow a linked list and show each entry, optionally with a structure or members of it.

crash's cmd_list() and do_list() (tools.c): each entry's address, then (`-s`) the structure printed as
`struct` prints it, or members cut out of that print (dump_struct_member), or (`-S`) members read
straight from memory (dump_struct_members_fast). A list that comes back to an entry it has shown
stops with crash's `duplicate list entry` error; `-B` finds the loop with R. P. Brent's algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.commands.struct import struct_text
from crashpy.commands.whatis import STRUCT_REQUEST, arg_to_datatype, datatype_info, member_offset, ptype_lines
from crashpy.errors import CrashpyError, FaultError
from crashpy.expr.gdb import fgets_lines, render_errors
from crashpy.expr.struct_members import parse_for_member, parse_for_member_extended
from crashpy.helpers.list import (
    BrentNote,
    DuplicateEntry,
    InvalidListEntry,
    read_pointer,
    walk_list,
    walk_list_brent,
)
from crashpy.helpers.numbers import command_args, eval_expression, getopt, htol, is_a_number, stol

if TYPE_CHECKING:
    from crashpy.session import Session

# ---------------------------------------------------------------------------------------------------------
# Printing a structure, or members of it, for each entry (shared with `tree`)


def dump_struct(session: Session, name: str, addr: int, radix: int) -> None:
    """crash's dump_struct(): `struct name {...}` at addr, as the struct command prints it."""
    dm = datatype_info(session, name)
    if dm is None or dm.size < 0:
        raise CrashpyError(f"invalid structure name: {name}")
    _, text = render_errors(struct_text(session, dm, STRUCT_REQUEST, addr, radix), inline=True)
    session.write(text)


def dump_struct_member(
    session: Session, spec: str, addr: int, radix: int, printed: str | None = None
) -> None:
    """crash's dump_struct_member(): one `struct.member` (or `struct.member.member`, `member[i]`) at addr,
    cut out of the whole structure's print (`printed`: that print, when the caller has it already)."""
    name, _, member = spec.partition(".")
    dm = datatype_info(session, name)
    if dm is None:
        raise CrashpyError(f"invalid structure name: {name}")
    if printed is None:
        printed = struct_text(session, dm, STRUCT_REQUEST, addr, radix)
    errors, text = render_errors(printed, inline=False)
    session.write(errors)
    lines = fgets_lines(text)
    if member_offset(session, dm, member) >= 0:
        session.write(parse_for_member(lines, member))
        return
    part = parse_for_member_extended(lines, member)
    if part is None:
        session.println(f"{session.current_cmd}: invalid data structure member reference: {member}")
    else:
        session.write(part)


def dump_struct_members(session: Session, spec: str, addr: int, radix: int) -> None:
    """crash's dump_struct_members(): `struct.m1,m2,...`, each member in turn. crash prints the whole
    structure again for each member; crashpy prints it once and cuts every member out of that text
    (with the error lines of its reads repeated per member, as crash shows them)."""
    name, _, members = spec.partition(".")
    dm = datatype_info(session, name)
    if dm is None:
        raise CrashpyError(f"invalid structure name: {name}")
    printed = struct_text(session, dm, STRUCT_REQUEST, addr, radix)
    for m in members.replace(",", " ").split():
        dump_struct_member(session, f"{name}.{m}", addr, radix, printed)


@dataclass
class FastMember:
    """What crash's fill_member_offsets() learns of one member for `-S`."""

    name: str
    offset: int
    width: int
    is_ptr: bool
    is_str: bool


@dataclass
class FastMembers:
    struct: str
    members: list[FastMember] = field(default_factory=list)


def _is_string(session: Session, struct: str, member: str) -> bool:
    """crash's is_string(): the struct's definition declares `char member[...]` or `char *member`."""
    dm = datatype_info(session, struct)
    if dm is None:
        return False
    for line in ptype_lines(session, dm, dm.typedef, dm.kind):
        k = line.find("char ")
        if k < 0:
            continue
        t = line[k + 5 :]
        if t.startswith("*"):
            t = t[1:]
        if t.find(member) != 0:
            continue
        if t[len(member) : len(member) + 1] in (";", "["):
            return True
    return False


def fill_member_offsets(session: Session, spec: str) -> FastMembers:
    """crash's fill_member_offsets(): offset, size and kind of each member of `struct.m1,m2`."""
    from crashpy.expr import evaluate
    from crashpy.types.gdb_view import strip, type_length
    from crashpy.types.model import TypeKind

    name, dot, members = spec.partition(".")
    fm = FastMembers(name)
    if not dot:
        return fm
    dm = datatype_info(session, name)
    tag = "union" if dm is not None and dm.kind == "union" else "struct"
    cast = name if dm is not None and dm.typedef else f"{tag} {name}"
    for m in members.replace(",", " ").split():
        try:
            obj = evaluate(session.prog, f"(({cast} *)0)->{m}")
            offset = int(obj.address_ or 0)
            t = obj.type_
        except CrashpyError:
            raise CrashpyError(f"Can't get offset of '{name}.{m}'") from None
        fm.members.append(
            FastMember(
                m, offset, type_length(t), strip(t).kind is TypeKind.POINTER, _is_string(session, name, m)
            )
        )
    return fm


def _read_string(session: Session, addr: int, maxlen: int) -> str:
    """crash's read_string(): up to maxlen bytes at addr, cut at the first NUL; what cannot be read is ''."""
    prog = session.prog
    out = bytearray()
    cur = addr
    while len(out) < maxlen:
        chunk = min(maxlen - len(out), 4096 - (cur & 4095))
        try:
            data = prog.read(cur, chunk)
        except (FaultError, CrashpyError):
            break
        out += data
        cur += chunk
    k = out.find(b"\0")
    if k >= 0:
        out = out[:k]
    return out.decode("latin-1")


def dump_struct_members_fast(session: Session, fm: FastMembers, radix: int, addr: int) -> None:
    """crash's dump_struct_members_fast() (-S): members of up to 8 bytes and strings read directly."""
    from crashpy.symbols.crash_view import crash_symtab

    prog = session.prog
    try:
        if not prog.is_kvaddr(addr):
            return
    except CrashpyError:  # no kernel layout: not a kernel address
        return
    radix = radix or session.radix
    for m in fm.members:
        if 0 < m.width and (m.width <= 8 or m.is_str):
            _print_value(session, m, addr, 16 if m.is_ptr else radix, crash_symtab(prog))
        else:
            dump_struct_member(session, f"{fm.struct}.{m.name}", addr, radix)


def _print_value(session: Session, m: FastMember, addr: int, radix: int, symtab: object) -> None:
    from crashpy.symbols.crash_view import CrashSymtab

    assert isinstance(symtab, CrashSymtab)
    addr += m.offset
    value = 0
    if m.width <= 8:
        try:
            value = int.from_bytes(session.prog.read(addr, m.width, what="structure value"), "little")
        except (FaultError, CrashpyError):
            session.println(f"{session.current_cmd}: cannot access member: {m.name} at {addr:x}")
            return
        session.write(f"  {m.name} = 0x{value:x}" if radix == 16 else f"  {m.name} = {value}")
    if m.is_str:
        if m.is_ptr:
            session.write(f'  "{_read_string(session, value, 1500)}"')
        else:
            session.write(f'  {m.name} = "{_read_string(session, addr, m.width)}"')
    else:
        found = symtab.value_search(value)
        if found is not None and _is_symbol_text(symtab, found[0]):
            session.write(f" <{found[0].name}>")
    session.write("\n")


def _is_symbol_text(symtab: object, sym: object) -> bool:
    """crash's is_symbol_text(): a t/T symbol, or a weak one inside the kernel text."""
    typ = getattr(sym, "type", "")
    if typ in ("T", "t"):
        return True
    if typ in ("W", "w"):
        return bool(getattr(symtab, "is_kernel_text")(getattr(sym, "value", 0)))  # noqa: B009
    return False


@dataclass
class StructRequest:
    """The -s/-S arguments of list and tree, and what each entry is shown with."""

    specs: list[str] = field(default_factory=list)
    read_members: bool = False  # -S
    fast: list[FastMembers] | None = None

    def prepare(self, session: Session) -> None:
        """For -S: learn the members' offsets and sizes (once; crash fails here on a bad member)."""
        if self.read_members and self.fast is None:
            self.fast = [fill_member_offsets(session, s) for s in self.specs]

    def show(self, session: Session, addr: int, radix: int) -> None:
        """Each requested structure or member list for the entry at `addr`."""
        self.prepare(session)
        for i, spec in enumerate(self.specs):
            if "." not in spec:
                dump_struct(session, spec, addr, radix)
            elif self.read_members:
                assert self.fast is not None
                dump_struct_members_fast(session, self.fast[i], radix, addr)
            else:
                dump_struct_members(session, spec, addr, radix)


def member_offset_arg(session: Session, arg: str) -> int | None:
    """A number, or the offset of a `struct.member`; None when it is neither."""
    if is_a_number(arg):
        return stol(arg) or 0
    code, dm = arg_to_datatype(session, arg)
    if code > 1 and dm is not None:
        return dm.member_offset
    return None


def usage(session: Session, name: str) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, name)


def _is_kvaddr(session: Session, addr: int) -> bool:
    try:
        return bool(session.prog.is_kvaddr(addr))
    except CrashpyError:  # no kernel layout: not a kernel address
        return False


def start_argument(session: Session, arg: str) -> int | None:
    """A symbol's value, or a `can_eval` expression that comes out as a kernel address; None otherwise."""
    from crashpy.helpers.numbers import can_eval
    from crashpy.symbols.crash_view import crash_symtab

    table = crash_symtab(session.prog)
    sym = table.search(arg)
    if sym is not None:
        return sym.value
    if not is_a_number(arg) and can_eval(arg):
        value = eval_expression(arg, table.value_of)
        if value is None:
            raise CrashpyError(f"invalid expression: {arg}")
        if _is_kvaddr(session, value):
            return value
    return None


# ---------------------------------------------------------------------------------------------------------
# The command

LIST_HEAD_FORMAT = 0x1
LIST_HEAD_POINTER = 0x2
LIST_HEAD_REVERSE = 0x4
LIST_BRENT = 0x8


@dataclass
class _ListArgs:
    flags: int = 0
    start: int | None = None
    member_offset: int | None = None  # None: not entered
    head_offset: int | None = None  # -O
    end: int = 0
    struct_list_offset: int = 0  # -l
    radix: int = 0
    structs: StructRequest = field(default_factory=StructRequest)


def _parse(session: Session, argv: list[str]) -> _ListArgs | None:
    from crashpy.symbols.crash_view import crash_symtab

    a = _ListArgs()
    parsed = getopt(argv, "BHhrs:S:e:o:O:xdl:")
    seen_s = seen_S = False
    for opt, val in parsed.opts:
        if opt == "B":
            a.flags |= LIST_BRENT
        elif opt == "H":
            a.flags |= LIST_HEAD_FORMAT | LIST_HEAD_POINTER
        elif opt == "h":
            a.flags |= LIST_HEAD_FORMAT
        elif opt == "r":
            a.flags |= LIST_HEAD_FORMAT | LIST_HEAD_REVERSE
        elif opt in ("s", "S"):
            assert val is not None
            a.structs.specs.append(val)
            seen_s |= opt == "s"
            seen_S |= opt == "S"
            a.structs.read_members = seen_S
            if seen_s and seen_S:
                raise CrashpyError("-S and -s options are mutually exclusive")
        elif opt == "l":
            assert val is not None
            off = member_offset_arg(session, val)
            if off is None:
                raise CrashpyError(f"invalid -l option: {val}")
            a.struct_list_offset = off
        elif opt == "O":
            assert val is not None
            if a.head_offset is not None:
                raise CrashpyError(f"offset value {a.head_offset} (0x{a.head_offset:x}) already entered")
            off = member_offset_arg(session, val)
            if off is None:
                raise CrashpyError(f"invalid -O argument: {val}")
            a.head_offset = off
        elif opt == "o":
            assert val is not None
            if a.member_offset is not None:
                raise CrashpyError(f"offset value {a.member_offset} (0x{a.member_offset:x}) already entered")
            off = member_offset_arg(session, val)
            if off is None:
                raise CrashpyError(f"invalid -o argument: {val}")
            a.member_offset = off
        elif opt == "e":
            assert val is not None
            end = htol(val)
            if end is None:
                raise CrashpyError(f"invalid expression: {val}")
            a.end = end
        elif opt == "x":
            if a.radix == 10:
                raise CrashpyError("-d and -x are mutually exclusive")
            a.radix = 16
        elif opt == "d":
            if a.radix == 16:
                raise CrashpyError("-d and -x are mutually exclusive")
            a.radix = 10
    for err in parsed.errors:
        session.println(f"{session.current_cmd}: {err}")
    if parsed.errors:
        usage(session, "list")
        return None
    args = parsed.args
    if len(args) > 2:
        session.println(f"{session.current_cmd}: too many arguments")
        usage(session, "list")
        return None
    if not a.structs.specs and a.struct_list_offset:
        session.println(f"{session.current_cmd}: -l option can only be used with -s or -S option")
        usage(session, "list")
        return None
    table = crash_symtab(session.prog)
    i = 0
    while i < len(args):
        arg = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if "." in arg:
            code, dm = arg_to_datatype(session, arg)
            if code > 1 and dm is not None:
                if a.member_offset is not None:
                    raise CrashpyError(
                        f"offset value {a.member_offset} (0x{a.member_offset:x}) already entered"
                    )
                a.member_offset = dm.member_offset
                i += 1
                continue
        sym = table.search(arg)
        if sym is not None:
            if a.start is not None:
                raise CrashpyError("list start already entered")
            a.start = sym.value
            i += 1
            continue
        if not is_a_number(arg):
            value = start_argument(session, arg)
            if value is not None:
                if a.start is not None:
                    raise CrashpyError("list start already entered")
                a.start = value
                i += 1
                continue
            raise CrashpyError(f"invalid argument: {arg}")
        if a.start is not None:
            a.member_offset = stol(arg) or 0
            break
        if a.member_offset is not None or nxt is None:
            notes: list[str] = []
            value = htol(arg, notes)
            if value is None and notes:  # crash's htol(FAULT_ON_ERROR) says why
                raise CrashpyError(notes[0])
            if value is None or not _is_kvaddr(session, value):
                raise CrashpyError(f"invalid kernel virtual address: {arg}")
            a.start = value
            break
        if table.search(nxt) is not None:
            a.member_offset = stol(arg) or 0
            i += 1
            continue
        if not is_a_number(nxt) and not _can_eval(nxt) and "." not in nxt:
            raise CrashpyError(f"symbol not found: {nxt}")
        if hexadecimal_only(arg):
            value = htol(arg)
            if value is not None and _is_kvaddr(session, value):
                a.start = value
                i += 1
                continue
        a.member_offset = stol(arg) or 0
        i += 1
    if a.start is None:
        session.println(f"{session.current_cmd}: starting address required")
        usage(session, "list")
        return None
    if a.member_offset is not None and a.struct_list_offset:
        session.println(f"{session.current_cmd}: -l and -o are mutually exclusive")
        usage(session, "list")
        return None
    return a


def hexadecimal_only(s: str) -> bool:
    """crash's hexadecimal_only(s, 0): hex digits (and x) only, at least one of a-f or x among them."""
    s = s.rstrip("\n").rstrip()
    only = 0
    for c in s:
        if c in "abcdefABCDEFxX":
            only += 1
        elif c not in "0123456789":
            return False
    return only > 0


def _can_eval(s: str) -> bool:
    from crashpy.helpers.numbers import can_eval

    return can_eval(s)


def _error(session: Session, message: str) -> None:
    """crash's error() of a message that starts with a newline: a blank line, then `cmd: message`."""
    session.write(f"\n{session.current_cmd}: {message}\n")
    session.errors += 1


HELP = """\
NAME
  list - linked list

SYNOPSIS
  list [[-o] offset][-e end][-[s|S] struct[.member[,member] [-l offset]] -[x|d]]
       [-r|-B] [-h [-O head_offset]|-H] start

DESCRIPTION
  This command walks a linked list and shows the address of each entry in
  it.  Two kinds of lists are understood:

  1. Singly-linked: the start address is a data structure that holds, at
     some offset, a pointer to the next structure of the list.  The walk
     stops at a "next" pointer that is:

       (a) NULL.
       (b) the start address.
       (c) the first entry the start address points to.
       (d) the structure that holds it.

  2. Linked through "list_head" structures embedded in each entry:

       struct list_head {
           struct list_head *next;
           struct list_head *prev;
       };

     Such a list usually hangs off a standalone LIST_HEAD() that points to
     itself when the list is empty.  A "next" pointer holds the address of
     the list_head inside the next entry, not the entry's own address.  The
     walk may start at:

       (a) a standalone LIST_HEAD().
       (b) a list_head embedded in an entry of the list.
       (c) a list_head embedded in a structure of another type.

     It stops when a "next" pointer comes back to where it started.  Some
     of these lists have no head at all and are simply circular.

  Either way, the addresses shown are those of the entries themselves.

  The start may also be the address of a list_head (or any linkage whose
  first member points to the next one); the list may then pass through a
  standalone head that is not inside an entry of interest.

  The arguments are as follows:

  [-o] offset  The offset of the "next" pointer within an entry (default 0):
               a "structure.member" (no -o needed), or a number of bytes (-o
               needed only where the number could be taken for a kernel
               address).
       -e end  An explicit ending address, for lists that end some other way.
    -s struct  Print each entry as this structure; "struct.member" prints one
               member, and "struct.member,member,..." several.  An embedded
               structure or an array element can be chosen with
               "struct.member.member" or "struct.member[index]", as deep as
               needed.
    -S struct  Like -s, but members of 1, 2, 4 or 8 bytes are read straight
               from memory instead of being cut out of the printed structure,
               which is much faster.
    -O offset  With -h: the offset of the list_head within the structure at
               the start address, when it differs from the offset of the
               list_head within the other entries; a "structure.member" or a
               number of bytes.
    -l offset  With -s or -S: the start address is an embedded list_head (or
               similar linkage), and this is its offset in the structure; a
               "structure.member" or a number of bytes.
           -x  Print the members' numbers in hexadecimal, whatever the radix.
           -d  Print the members' numbers in decimal, whatever the radix.
           -r  For list_head lists: walk backwards, through the "prev" pointers.
           -B  Detect loops with R. P. Brent's algorithm instead of a hash
               table: little memory, good for long lists.  On a loop it prints
               the loop's length, the distance to it, and the first entry
               met twice.

  The start, a symbol, a hexadecimal address or an expression, means:

      start  The address of the first entry of the list.
      start  With -s and -l: the address of an embedded list_head or similar
             linkage.
   -H start  The address of a list_head, usually a standalone LIST_HEAD(); the
             walk ends when a "next" pointer comes back to it.
   -h start  The address of an entry that embeds a list_head; the walk ends
             when a "next" pointer comes back to that list_head.

WARNING
  With "-h start" the list may pass through a standalone LIST_HEAD() or a
  list_head inside a structure of another type; the address shown for it, and
  any -s output for it, are then meaningless, since -h presumes that every
  list_head sits in the same kind of structure.  The same holds for a list
  started at an embedded linkage with -s and -l.

EXAMPLES
  Follow task_struct.parent from a task up to the swapper task:

    crash> list task_struct.parent ffff888005366000
    ffff888005366000
    ffff888003dfb000
    ffffffff82a1aa40

  The loaded modules, linked through module.list from the "modules"
  LIST_HEAD(); the offset of module.list is 8:

    crash> list -H modules -o 8
    ffffffffc023b040
    ffffffffc02542c0
    ...

  Every task with its pid and command, starting at init_task:

    crash> list task_struct.tasks -s task_struct.pid,comm -h init_task
    ffffffff82a1aa40
      pid = 0,
      comm = "swapper/0\\000\\000\\000\\000\\000\\000",
    ffff888003dfb000
      pid = 1,
      comm = "init\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000",
    ...

  The same members read directly from memory:

    crash> list task_struct.tasks -S task_struct.pid,comm -h init_task
    ffffffff82a1aa40
      pid = 0
      comm = "swapper/0"
    ...

  The superblocks, linked through super_block.s_list from the super_blocks head:

    crash> list -H super_blocks -o super_block.s_list -s super_block.s_id
    ffff888003c5a000
      s_id = "tmpfs\\000\\000...",
    ffff888003c5a800
      s_id = "rootfs\\000\\000...",
    ...
"""


@command("list", summary="linked list", help=HELP)
def cmd_list(session: Session, args: list[str]) -> None:

    a = _parse(session, command_args(session.current_line, args))
    if a is None:
        return
    prog = session.prog
    assert a.start is not None
    start = a.start
    member_offset = a.member_offset or 0
    list_head_offset = 0
    end = a.end
    if a.flags & LIST_HEAD_FORMAT:
        list_head_offset = member_offset
        member_offset = 8 if a.flags & LIST_HEAD_REVERSE else 0
        if a.flags & LIST_HEAD_POINTER:
            if not end:
                end = start
            start = read_pointer(prog, start + member_offset, "LIST_HEAD contents")
            if start == end:
                session.println("(empty)")
                return
        elif a.head_offset is not None:
            if not end:
                end = start + a.head_offset
            start = read_pointer(prog, start + a.head_offset, "LIST_HEAD contents")
            if start == end:
                session.println("(empty)")
                return
        else:
            start += list_head_offset
    offset = list_head_offset + a.struct_list_offset
    head_format = bool(a.flags & LIST_HEAD_FORMAT)
    walker = (
        walk_list_brent(prog, start, member_offset, list_head_offset, end, head_format)
        if a.flags & LIST_BRENT
        else walk_list(prog, start, member_offset, list_head_offset, end, head_format)
    )
    structs = a.structs
    read_pointer(prog, start + member_offset, "first list entry")
    structs.prepare(session)
    pending: list[str] = []  # plain addresses, written in one piece (a 1000-entry list: one write)
    try:
        for nxt in walker:
            if isinstance(nxt, BrentNote):
                pending.append(f"{session.current_cmd}: {nxt.text}")
                continue
            pending.append(f"{nxt - list_head_offset:x}\n")
            if structs.specs:
                session.write("".join(pending))
                pending.clear()
                structs.show(session, nxt - offset, a.radix)
    except (DuplicateEntry, InvalidListEntry) as e:
        session.write("".join(pending))
        pending.clear()
        _error(session, str(e))
    finally:
        session.write("".join(pending))
