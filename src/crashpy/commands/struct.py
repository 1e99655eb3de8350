"""struct, union and `*`: a structure's definition, member offsets, or its contents at an address.

crash (symbols.c: cmd_datatype_common, do_datatype_addr, print_struct, parse_for_member,
parse_for_member_extended) prints `struct name ` and then gdb's `output *(struct name *)addr`, and cuts
the lines of chosen members out of that text. crashpy makes the same gdb text and cuts it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from crashpy.commands.registry import command
from crashpy.commands.whatis import (
    STRUCT_REQUEST,
    UNION_REQUEST,
    DataType,
    arg_to_datatype,
    datatype_declaration,
    member_to_datatype,
)
from crashpy.errors import AddressSpace, CrashpyError, FaultError
from crashpy.expr import GdbError
from crashpy.expr.gdb import BUFSIZE, ERR, PartialPrint, fgets_lines, render_errors
from crashpy.expr.struct_members import leading_blanks, parse_for_member, parse_for_member_extended
from crashpy.helpers.crash_reads import (
    accessible_as_crash,
    read_as_crash,
    read_cstring_as_crash,
    read_u64_as_crash,
)
from crashpy.helpers.downsized import is_downsized
from crashpy.helpers.numbers import command_args, cpu_spec, getopt, htol, is_a_number, parse_line, stol
from crashpy.helpers.sysinfo import crash_cpu_count
from crashpy.object import Object, is_percpu_symbol
from crashpy.types.valprint import PartialOutput

if TYPE_CHECKING:
    from crashpy.commands.rd import ReadSpan
    from crashpy.expr.gdb import KernelRead
    from crashpy.program import Program
    from crashpy.session import Session

# ---------------------------------------------------------------------------------------------------------
# print_struct / print_union


def struct_text(session: Session, dm: DataType, kind: str, addr: int, radix: int) -> str:
    """crash's print_struct()/print_union(): `struct name ` + gdb's output of the object (+ newline for
    a struct only, as crash 8.0.6 does). crash's read-error lines are ERR-bracketed where they came."""
    head = f"{'union' if kind == UNION_REQUEST else 'struct'} {dm.name} "
    mem = session.gdb.memory
    mem.take()
    mem.partial_ok = is_downsized(session.prog, dm.name)
    try:
        body = session.gdb.format_value(Object(cast("Program", mem), dm.type, addr), "", radix or session.radix)
    except PartialOutput as e:
        body = e.partial  # gdb's message stays out of crash's output; what it printed stays
    except (CrashpyError, GdbError):
        body = ""
    finally:
        mem.partial_ok = False
    body += "".join(ERR + line + ERR for line in mem.take())
    return head + body + ("\n" if kind != UNION_REQUEST else "")


# ---------------------------------------------------------------------------------------------------------
# cmd_datatype_common


@dataclass
class _Request:
    flags_offset: bool = False
    raw: bool = False
    deref: bool = False
    radix: int = 0
    count: int | None = None
    list_head_offset: int = 0
    verbose: bool = False
    user: bool = False  # -u: the address is in the current task's user space (crash's MEMTYPE_UVADDR)
    members: list[str] = field(default_factory=list)


def _fatal(msg: str) -> CrashpyError:
    return CrashpyError(msg)


def datatype_common(session: Session, args: list[str], kind: str | None) -> None:
    """The struct, union and `*` commands (kind None: whichever the name is)."""
    cmd = session.current_cmd
    argv = command_args(session.current_line, args)
    parsed = getopt(argv, "pxdhfuc:rvol:")
    req = _Request()
    prog = session.prog
    for opt, val in parsed.opts:
        if opt == "p":
            req.deref = True
        elif opt == "d":
            if req.radix == 16:
                raise _fatal("-d and -x are mutually exclusive")
            req.radix = 10
        elif opt in ("h", "x"):
            if req.radix == 10:
                raise _fatal("-d and -x are mutually exclusive")
            req.radix = 16
        elif opt == "c":
            assert val is not None
            try:
                req.count = int(val.strip() or "0")
            except ValueError:
                req.count = 0
        elif opt == "r":
            req.raw = True
        elif opt == "v":
            req.verbose = True
        elif opt == "o":
            req.flags_offset = True
        elif opt == "l":
            assert val is not None
            if is_a_number(val):
                req.list_head_offset = stol(val) or 0
            else:
                code, dm = arg_to_datatype(session, val)
                if code > 1 and dm is not None:
                    req.list_head_offset = dm.member_offset
                else:
                    raise _fatal(f"invalid -l option: {val}")
        elif opt == "f":
            raise _fatal("-f option requires a dumpfile")
        elif opt == "u":
            req.user = True
    for err in parsed.errors:
        session.println(f"{cmd}: {err}")
    if parsed.errors or not parsed.args:
        from crashpy.commands.help import print_usage

        print_usage(session, cmd if cmd in ("struct", "union", "*") else "struct")
        return
    spec = parsed.args[0]
    if spec.endswith(",") or spec.endswith("."):
        raise _fatal(f"invalid format: {spec}")

    addr = 0
    aflag = False
    count: int | None = req.count
    cpuspec: str | None = None
    for arg in parsed.args[1:]:
        if aflag and count is not None:
            raise _fatal("too many arguments!")
        if not aflag and ":" in arg:
            k = arg.index(":")
            arg, cpuspec = arg[:k], arg[k + 1 :]
        if arg.endswith(",") or arg.endswith(":"):
            if is_a_number(arg[:-1]):
                arg = arg[:-1]
        if is_a_number(arg):
            if aflag:
                count = stol(arg)
            elif cpuspec is not None:
                addr = htol(arg) or 0
                aflag = True
            else:
                addr = htol(arg) or 0
                if not req.user and not _is_kvaddr(session, addr):
                    raise _fatal(f"invalid kernel virtual address: {arg}")
                aflag = True
            continue
        sym = prog.symbols.lookup(arg)
        if sym is not None:
            if cpuspec is not None and not is_percpu_symbol(prog, sym.address):
                session.println(f"WARNING: {sym.name} is not percpu; cpuspec ignored.")
                cpuspec = None
            addr = sym.address
            aflag = True
            continue
        session.println(f"symbol not found: {arg}")
        session.println("possible alternatives:")
        _symbol_query(session, arg)
        return
    cpus = None
    if cpuspec is not None:

        def warn(message: str) -> None:
            session.println(f"{cmd}: {message}")

        cpus = cpu_spec(cpuspec, crash_cpu_count(prog), session.current_cpu, warn)
    if count is None:
        count = 1
    elif not aflag:
        raise _fatal("no kernel virtual address argument entered")
    if req.deref and not aflag:
        raise _fatal("-p option requires address argument")
    if req.list_head_offset:
        addr -= req.list_head_offset

    members: list[str] = []
    structname = spec
    if "." in spec:
        k = spec.index(".")
        structname = spec[:k]
        members = parse_line(spec[k + 1 :].replace(",", " "))
    code, dm = arg_to_datatype(session, structname, query=True)
    if code < 1 or dm is None:
        raise _fatal(f"invalid data structure reference: {structname}")
    if kind is None:
        if dm.kind not in (STRUCT_REQUEST, UNION_REQUEST):
            session.write(f"{cmd}: invalid argument")  # crash's message has no newline
            session.errors += 1
            return
        kind = dm.kind
    elif kind != dm.kind:
        raise _fatal(
            f"data type mismatch: {dm.name} is not a {'union' if kind == UNION_REQUEST else 'struct'}"
        )
    show_offset = req.flags_offset
    if len(members) > 1 and not aflag:
        session.println(
            f"{cmd}: -o option not valid with multiple member format"
            if show_offset
            else f"{cmd}: multiple member format not supported in this syntax"
        )
        members = []
        show_offset = True
    if len(members) > 1 and aflag and show_offset:
        raise _fatal("-o option not valid with multiple member format")
    radix = req.radix or session.radix

    if not aflag:
        if members and not member_to_datatype(session, dm, members[0]):
            raise _fatal(f"invalid data structure reference: {dm.name}.{members[0]}")
        session.write(datatype_declaration(session, dm, dm.typedef, kind, show_offset, radix))
        return
    memory = session.gdb.memory
    if req.user:
        from crashpy.helpers.crash_reads import read_user_as_crash

        mm = session.current_context().mm or 0
        if not mm and not show_offset:
            # crash fails reading mm->pgd at 0 + its offset, once the struct's head is out (-r: none)
            if not (req.raw or members):
                session.write(f"{'union' if kind == UNION_REQUEST else 'struct'} {dm.name} ")
            at = prog.offsetof("mm_struct", "pgd")
            raise _fatal(f'invalid kernel virtual address: {at:x}  type: "mm_struct pgd"')
        memory.read_user = lambda a, n, what: read_user_as_crash(prog, mm, a, n, what)
    try:
        _datatype_addrs(session, dm, kind, addr, count, req, show_offset, members, radix, cpus)
    finally:
        memory.read_user = None


def _datatype_addrs(
    session: Session,
    dm: DataType,
    kind: str,
    addr: int,
    count: int,
    req: _Request,
    show_offset: bool,
    members: list[str],
    radix: int,
    cpus: list[int] | None,
) -> None:
    prog = session.prog
    if cpus is not None:
        for c in range(crash_cpu_count(session.prog)):
            if c not in cpus:
                continue
            cpuaddr = prog.percpu_address(addr, c)
            session.write(f"[{c}]: {cpuaddr:x}\n")
            _datatype_addr(session, dm, kind, cpuaddr, count, req, show_offset, members, radix)
        return
    _datatype_addr(session, dm, kind, addr, count, req, show_offset, members, radix)


def _datatype_addr(
    session: Session,
    dm: DataType,
    kind: str,
    addr: int,
    count: int,
    req: _Request,
    show_offset: bool,
    members: list[str],
    radix: int,
) -> None:
    """crash's do_datatype_addr()."""
    length = dm.size
    if count < 0:
        addr -= length * abs(count)
        addr += length
    for c in range(abs(count)):
        if c:
            session.write("\n")
        i = 0
        while True:
            if members:
                if len(members) > 1 and req.raw:
                    raise _fatal("only one structure member allowed with -r")
                if not member_to_datatype(session, dm, members[i]):
                    raise _fatal(f"invalid data structure reference: {dm.name}.{members[i]}")
            if show_offset:
                dm.vaddr = addr
                session.write(datatype_declaration(session, dm, dm.typedef, kind, True, radix))
                dm.vaddr = 0
            elif req.raw:
                _raw_dump(session, dm, addr, length, req.verbose)
            elif req.deref and not dm.member:
                print_struct_with_dereference(session, dm, kind, addr, radix)
            else:
                text = struct_text(session, dm, kind, addr, radix)
                errors, text = render_errors(text, inline=not dm.member)
                session.write(errors)
                if dm.member and req.deref and dereference_pointer(session, dm, kind, addr, radix):
                    pass
                elif dm.member:
                    lines = fgets_lines(text)
                    if "." in dm.member or "[" in dm.member:
                        part = parse_for_member_extended(lines, dm.member)
                        if part is None:
                            session.println(
                                f"{session.current_cmd}: invalid data structure member reference: {dm.member}"
                            )
                        else:
                            session.write(part)
                    else:
                        session.write(parse_for_member(lines, dm.member))
                else:
                    session.write(text)
            i += 1
            if i >= len(members):
                break
        addr += length
    dm.member = None


# ---------------------------------------------------------------------------------------------------------
# -p: print_struct_with_dereference / dereference_pointer


def _value_symbol(session: Session, value: int) -> str | None:
    """crash's value_symbol(): the name of the symbol exactly at `value`."""
    from crashpy.symbols.crash_view import crash_symtab

    found = crash_symtab(session.prog).value_search(value)
    if found is None or found[1]:
        return None
    return found[0].name


def _symbol_type_code(session: Session, name: str) -> str | None:
    """gdb's type code of a symbol (get_symbol_type): struct, union, int, pointer, array, function..."""
    from crashpy.object import function_type, variable_type
    from crashpy.types.gdb_view import strip

    t = variable_type(session.prog, name) or function_type(session.prog, name)
    if t is None:
        return None
    return strip(t).kind.value


def _datatype_code(session: Session, name: str) -> str | None:
    """crash's datatype_exists(): gdb's type code for a type name (typedefs resolved), or None."""
    from crashpy.commands.whatis import datatype_info
    from crashpy.types.gdb_view import strip

    dm = datatype_info(session, name.split(".")[0])
    if dm is None:
        return None
    return strip(dm.type).kind.value


def _accessible(session: Session, addr: int) -> bool:
    return accessible_as_crash(session.prog, addr)


def dereference_pointer(session: Session, dm: DataType, kind: str, addr: int, radix: int) -> bool:
    """crash's dereference_pointer(): a pointer member shown with what it points to; False when the member
    is no pointer (the caller prints it as usual)."""
    from crashpy.commands.whatis import ptype_lines

    member = dm.member or ""
    lines = ptype_lines(session, dm, dm.typedef, kind)
    found = ptrptr = funcptr = typedef_is_ptr = False
    typeptr = ""
    buf1 = ""
    for buf1 in lines:
        if f" *{member};" in buf1 and buf1[4:5] != " ":
            typeptr, found = buf1[4:], True
            break
        if f"**{member};" in buf1 and buf1[4:5] != " ":
            typeptr, found, ptrptr = buf1[4:], True, True
            break
        if f"(*{member})(" in buf1 and buf1[4:5] != " ":
            typeptr, funcptr, found = buf1[4:], True, True
            break
        if f" {member};" in buf1 and buf1[4:5] != " ":
            typeptr = buf1[4:]
            typedef_is_ptr = True
            if _datatype_code(session, typeptr.split(" ")[0]) == "pointer":
                found = True
                break
    if not found:
        return False
    charptr = voidptr = False
    if funcptr:
        typeptr = typeptr[: typeptr.index(";")]
    elif ptrptr:
        typeptr = typeptr[: typeptr.index("**") + 2]
    elif typedef_is_ptr:
        typeptr = typeptr[: typeptr.index(" ")]
    else:
        typeptr = typeptr[: typeptr.index("*") + 1]
        charptr = "char *" in buf1[4:]
        voidptr = "void *" in buf1[4:]
    try:
        target = read_u64_as_crash(session.prog, addr + dm.member_offset)
    except CrashpyError:
        session.println(
            f"{session.current_cmd}: cannot access {dm.name}.{member} {addr + dm.member_offset:x}"
        )
        return False
    sym = _value_symbol(session, target)
    use_symbol = sym is not None and _symbol_type_code(session, sym) in (
        "array",
        "union",
        "struct",
        "int",
        "pointer",
    )
    out = session.write
    if funcptr:
        out(f"  {typeptr} = 0x{target:x}\n  -> ")
        out(f"<{sym}>\n" if sym else "(unknown)\n" if target else "NULL\n")
        return True
    if charptr:
        out(f"  {typeptr}{member} = 0x{target:x}\n  -> ")
        if sym:
            out(f"<{sym}> ")
        if not target:
            out("NULL\n")
        elif not _accessible(session, target):
            out("(not accessible)\n")
        else:
            try:
                raw = read_cstring_as_crash(session.prog, target, BUFSIZE - 1)
                out('"' + raw.decode("latin-1") + '"\n')
            except CrashpyError:
                out("(not accessible)\n")
        return True
    if voidptr and not use_symbol:
        out(f"  {typeptr}{member} = 0x{target:x}\n  -> ")
        if sym:
            out(f"<{sym}>\n")
        elif not target:
            out("NULL\n")
        else:
            out("(unknown target type)\n")
        return True
    if not target or not _accessible(session, target):
        out(f"  {typeptr}{' ' if typedef_is_ptr else ''}{member} = 0x{target:x}\n  -> ")
        out("NULL\n" if not target else "(not accessible)\n")
        return True
    if ptrptr:
        out(f"  {typeptr}{member} = 0x{target:x}\n  -> ")
        if sym:
            out(f"<{sym}> ")
        try:
            out(f"{read_u64_as_crash(session.prog, target):x}\n")
        except CrashpyError:
            out("\n")
        return True
    request = f"p {sym}" if use_symbol else f"p *(({typeptr})(0x{target:x}))"
    if not typedef_is_ptr:
        typeptr = typeptr[: typeptr.index("*") - 1]
    if _datatype_code(session, typeptr) is None:
        out(f"  {typeptr} {'' if typedef_is_ptr else '*'}{member} = 0x{target:x}\n")
        out(f"  -> ({typeptr}: no debuginfo data)\n")
        return True
    try:
        text = session.gdb.print(request[2:], "", radix or session.radix)
    except PartialPrint as e:
        session.write(render_errors(e.partial, inline=False)[0])
        return False
    except CrashpyError:
        return False
    errors, text = render_errors(text, inline=False)
    out(errors)
    out(f"  {typeptr} {'' if typedef_is_ptr else '*'}{member} = 0x{target:x}\n  -> ")
    for line in fgets_lines(text):
        if line.startswith("$"):
            if sym:
                out(f"<{sym}> ")
            if (typedef_is_ptr or use_symbol) and "(" in line and ")" in line:
                out("\n")
                break
            k = line.find("=")
            out(line[k + 2 :])
        else:
            out("     " + line)
    return True


def print_struct_with_dereference(session: Session, dm: DataType, kind: str, addr: int, radix: int) -> None:
    """crash's print_struct_with_dereference(): the object, its pointer members followed one level."""
    errors, text = render_errors(struct_text(session, dm, kind, addr, radix), inline=False)
    session.write(errors)
    for buf1 in fgets_lines(text):
        if leading_blanks(buf1) != 2 or "{" in buf1 or "}" in buf1:
            session.write(buf1)
            continue
        k = buf1.find(" =")
        name = f"{dm.name}.{buf1[2:k] if k >= 2 else buf1[2:]}"
        code, dm1 = arg_to_datatype(session, name)
        if code == 2 and dm1 is not None and dereference_pointer(session, dm1, kind, addr, radix):
            continue
        session.write(buf1)


def _raw_dump(session: Session, dm: DataType, addr: int, length: int, verbose: bool) -> None:
    """crash's raw_data_dump(): the object's words as `rd` shows them (symbolic with -v)."""
    from crashpy.commands import rd as rd_cmd
    from crashpy.symbols.crash_view import crash_symtab

    if dm.member:
        addr += dm.member_offset
        size = _member_size(session, dm)
        if size < 0:
            raise _fatal(f"invalid data structure reference: {dm.name}.{dm.member}")
        length = size
    words = (length + 7) // 8
    flag = rd_cmd.HEXADECIMAL | rd_cmd.DISPLAY_64 | (rd_cmd.SYMBOLIC if verbose else rd_cmd.ASCII_ENDLINE)
    table = crash_symtab(session.prog)
    display = rd_cmd.Display(flag, lambda v: table.value_to_symstr(v, session.radix))
    read = _span_as_crash(session.prog, "64-bit KVADDR", session.gdb.memory.read_user)
    out: list[str] = []
    try:
        # as rd does: the words before an unreadable one, then crash's error line right after them
        out.extend(display.render(rd_cmd.items(read, addr, words, 8), words))
    finally:
        session.write("".join(out))


def _span_as_crash(prog: Program, what: str, user: KernelRead | None = None) -> ReadSpan:
    """rd's span reader over kernel memory as crash reads it (an ELF dump's left-out pages as zeros),
    or with `user` over the current task's user space."""
    space = AddressSpace.KVADDR if user is None else AddressSpace.UVADDR
    if user is not None:
        what = "64-bit UVADDR"

    def read_span(start: int, n: int) -> tuple[bytes, FaultError | None]:
        out = bytearray()
        cur, end = start, start + n
        while cur < end:
            chunk = min(end - cur, 4096 - (cur & 4095))
            try:
                if user is not None:
                    out += user(cur, chunk, what)
                else:
                    out += read_as_crash(prog, cur, chunk, space, what)
            except FaultError as e:
                return bytes(out), e.with_context(cur, space, what) if e.space is space else e
            cur += chunk
        return bytes(out), None

    return read_span


def _member_size(session: Session, dm: DataType) -> int:
    from crashpy.expr import evaluate

    for kind in ("struct", "union"):
        try:
            return int(evaluate(session.prog, f"sizeof((({kind} {dm.name} *)0)->{dm.member})").value_())
        except CrashpyError:
            continue
    return -1


def _is_kvaddr(session: Session, addr: int) -> bool:
    return bool(session.prog.is_kvaddr(addr))


def _symbol_query(session: Session, name: str) -> None:
    """crash's symbol_query(s, "  "): symbols whose names contain `name` as `sym -q` lists them, or
    `  (none found)`."""
    from crashpy.commands.sym import format_symbol
    from crashpy.symbols.crash_view import crash_symtab

    found = crash_symtab(session.prog).query(name)
    if not found:
        session.println("  (none found)")
        return
    for sym in found:
        session.println("  " + format_symbol(sym, 0, session.radix))


def is_datatype_command(session: Session, argv: list[str]) -> list[str] | None:
    """crash's is_datatype_command(): a command line that starts with a symbol or a type name instead of
    a command, rewritten as crash runs it (`jiffies` -> `p jiffies`, `task_struct <addr>` -> `struct
    task_struct <addr>`, `pid_t` -> `whatis pid_t`, `u32 <addr>` -> `rd -32 <addr>`); None if it is not."""
    if not argv:
        return None
    prog = session.prog
    name = argv[0]
    sym = prog.symbols.lookup(name)
    if sym is not None and len(argv) == 1:
        return ["p", *argv]
    if name == "enum":
        return ["whatis", *argv]
    from crashpy.commands.whatis import datatype_info

    if datatype_info(session, name.split(".")[0]) is None:
        return None
    code, dm = arg_to_datatype(session, name, query=True)
    if code < 1 or dm is None:
        return None
    if sym is not None:
        return ["p", *argv]
    kind = dm.kind
    if kind in (STRUCT_REQUEST, UNION_REQUEST):
        if dm.typedef and len(argv) == 1:
            return ["whatis", *argv]
        return ["struct" if kind == STRUCT_REQUEST else "union", *argv]
    if kind in ("pointer", "array", "function", "enum"):
        return ["whatis", *argv]
    if kind in ("int8", "int16", "int32", "int64"):
        if len(argv) > 1:
            if prog.symbols.lookup(argv[1]) is not None:
                return ["p", *argv[1:]]
            return ["rd", "-" + kind[3:], *argv[1:]]
        return ["whatis", *argv]
    return None


STRUCT_HELP = """\
NAME
  struct - structure contents

SYNOPSIS
  struct struct_name[.member[,member]][-o][-l offset][-rfuxdp]
         [address | symbol][:cpuspec] [count | -c count]

DESCRIPTION
  Without an address, prints how a kernel structure type is declared, and its
  size.  With an address, prints the members of the structure stored there,
  each with its value.  Naming a member after the type narrows the output to
  that member; without an address this gives the member's offset and
  declaration.

    struct_name  the name of a structure type in the kernel's debug data.
        .member  a member of that structure; several members may be given,
                 separated by commas.  A member that is itself a structure or
                 an array can be narrowed further, to "member.member" or to
                 "member[index]", and the dotted form may go several levels
                 deep ("member.member.member...").
             -o  with a type only, put each member's offset in front of it;
                 with an address or symbol, put each member's address there.
      -l offset  the address points at a member inside the structure (most
                 often an embedded list_head) rather than at its start; give
                 where that member lies in one of two forms:
                   1. in "structure.member" form, or
                   2. as a byte count.
             -r  print the structure's memory as raw words, undecoded.
             -f  the address is an offset into the dump file.
             -u  the address is a user address of the current task.
             -x  show numbers in hexadecimal, whatever the output radix is.
             -d  show numbers in decimal, whatever the output radix is.
             -p  for members that are pointers, also give the member's type
                 and follow the pointer to show what it points at (with the
                 target's symbol in brackets when it has one); needs an
                 address.
        address  where the structure lies, in hexadecimal; when it is the
                 address of an embedded list_head instead, -l is needed too.
         symbol  a symbol whose address is that of the structure.
       :cpuspec  which CPUs' copies of a per-cpu address or symbol to show:
                   :             the CPU the current task last ran on.
                   :a[ll]        every CPU.
                   :#[-#][,...]  CPU numbers and ranges separated by commas,
                                 such as "0", "0-1" or "0,2-3,6".
          count  print this many structures of an array, one after the
                 other; when given this way it must come last on the line.
       -c count  the same, anywhere on the line; a negative count prints the
                 structures that end with the one at the address, that one
                 included.

  Values, sizes and offsets follow the output radix, unless -x or -d says
  otherwise.

EXAMPLES
  How a list_head is declared, with and without member offsets:

    crash> struct list_head
    struct list_head {
        struct list_head *next;
        struct list_head *prev;
    }
    SIZE: 16

    crash> struct -o list_head
    struct list_head {
       [0] struct list_head *next;
       [8] struct list_head *prev;
    }
    SIZE: 16

  One member of init_task:

    crash> struct -x task_struct.pid init_task
      pid = 0x0,
"""

UNION_HELP = """\
NAME
  union - union contents

SYNOPSIS
  union union_name[.member[,member]] [-o][-l offset][-rfuxdp]
         [address | symbol][:cpuspec] [count | -c count]

DESCRIPTION
  The "struct" command for unions.  Without an address, prints how a kernel
  union type is declared, and its size; with an address, the union stored
  there, member by member.  Naming a member after the type narrows the output
  to that member; without an address this gives its declaration and its
  offset, which in a union is always 0.

  The options and arguments are those of "struct" (see "help struct"), with
  union_name in place of struct_name.

EXAMPLES
    crash> union rcu_special
    union rcu_special {
        struct {
            u8 blocked;
            u8 need_qs;
            u8 exp_hint;
            u8 need_mb;
        } b;
        u32 s;
    }
    SIZE: 4
"""

POINTER_HELP = """\
NAME
  * - pointer-to short-cut

SYNOPSIS
  * (struct or union command arguments)

DESCRIPTION
  Saves typing "struct" or "union": put a "*" in front of the type name and
  give the arguments that command would take.  "help struct" and "help union"
  describe them.

EXAMPLES
  The list_head embedded in init_task (at &init_task.tasks):

    crash> * list_head ffffffff82a1b2d0
    struct list_head {
      next = 0xffff888003dfb890,
      prev = 0xffff888005365090
    }
"""


@command("struct", summary="structure contents", help=STRUCT_HELP)
def cmd_struct(session: Session, args: list[str]) -> None:
    datatype_common(session, args, STRUCT_REQUEST)


@command("union", summary="union contents", help=UNION_HELP)
def cmd_union(session: Session, args: list[str]) -> None:
    datatype_common(session, args, UNION_REQUEST)


@command("*", summary="pointer-to short-cut", help=POINTER_HELP)
def cmd_pointer(session: Session, args: list[str]) -> None:
    datatype_common(session, args, None)


__all__ = ["is_datatype_command", "struct_text"]
