"""whatis: a type's definition and size, or a symbol's declaration (crash's cmd_whatis).

crash builds its answers from gdb's `ptype` text (symbols.c: datatype_info, do_datatype_declaration,
show_member_offset, whatis_variable); crashpy makes the same gdb text (crashpy.types.typeprint, crashpy.types.valprint) and edits it
the way crash does, so the odd corners (typedefs of function pointers, `-o` offsets of anonymous members)
come out the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.commands.ptype import gdb_type_text
from crashpy.commands.registry import command
from crashpy.errors import CrashpyError
from crashpy.expr import evaluate, parse_expression
from crashpy.expr.gdb import GdbFailed, fgets_lines
from crashpy.expr.parser import Name, TypeExpr
from crashpy.helpers.numbers import command_args, getopt, parse_line
from crashpy.types.gdb_view import check_typedef, peel, strip, type_length
from crashpy.types.model import EnumType, StructType, Type, TypeKind

if TYPE_CHECKING:
    from crashpy.session import Session

STRUCT_REQUEST = "struct"
UNION_REQUEST = "union"
ENUM = "enum"
POINTER = "pointer"
FUNCTION = "function"
ARRAY = "array"
INTEGER = ("int8", "int16", "int32", "int64")


@dataclass
class DataType:
    """crash's struct datatype_member: what datatype_info() found for a name."""

    name: str
    type: Type  # the type with its typedefs resolved
    kind: str | None  # struct, union, enum, pointer, function, array, int8..int64; None: no such type
    size: int
    typedef: bool = False
    tagname: str | None = None  # an enumerator's enum ("(unknown)" for an anonymous one)
    value: int = 0  # an enumerator's value
    member: str | None = None
    member_offset: int = -1
    vaddr: int = 0
    in_union: bool = False
    in_struct: bool = False


def _kind_of(t: Type) -> str | None:
    s = strip(t)
    code = s.kind
    if code is TypeKind.STRUCT:
        return STRUCT_REQUEST
    if code is TypeKind.UNION:
        return UNION_REQUEST
    if code is TypeKind.INT:
        if getattr(s, "is_bool", False):
            return None
        return {8: "int64", 4: "int32", 2: "int16", 1: "int8"}.get(type_length(s))
    if code is TypeKind.POINTER:
        return POINTER
    if code is TypeKind.FUNCTION:
        return FUNCTION
    if code is TypeKind.ARRAY:
        return ARRAY
    if code is TypeKind.ENUM:
        return ENUM
    return None


def _tagged(session: Session, name: str, module_btf: bool) -> Type | None:
    """gdb's lookup_symbol(name, STRUCT_DOMAIN): a struct, union or enum tag of the kernel's BTF or a
    loaded module's DWARF (mod -s); with `module_btf`, of the loaded modules' BTF in the dump too."""
    from crashpy.object import find_type

    for kind in ("struct", "union", "enum"):
        t = find_type(session.prog, name, kind, module_btf=module_btf)
        if t is not None:
            return t
    return None


def datatype_info(session: Session, name: str) -> DataType | None:
    """crash's datatype_info() through gdb_get_datatype(): a tag, a typedef or base type name, or an
    enumerator; None when gdb knows no such type. The modules' BTF in the dump is asked last, for a
    tag no one else knows (so that the kernel's typedefs and enumerators read no module)."""
    t = _tagged(session, name, module_btf=False)
    if t is None:
        dm = _named(session, name)
        if dm is not None:
            return dm
        t = _tagged(session, name, module_btf=True)
        if t is None:
            return None
    return DataType(name, t, _kind_of(t), type_length(t))


def _named(session: Session, name: str) -> DataType | None:
    """datatype_info() for a name that is no tag: a typedef or base type name, or an enumerator."""
    try:
        node = parse_expression(session.prog, name)
    except CrashpyError:
        node = None
    if isinstance(node, TypeExpr):
        t = node.type
        typedef = peel(t)[0].kind is TypeKind.TYPEDEF
        r = check_typedef(t)
        kind = _kind_of(r)
        if kind is None:
            return None
        return DataType(name, r, kind, type_length(r), typedef)
    if isinstance(node, Name):
        try:
            obj = evaluate(session.prog, name)
        except CrashpyError:
            obj = None
        if obj is not None and strip(obj.type_).kind is TypeKind.ENUM:
            e = strip(obj.type_)
            assert isinstance(e, EnumType)
            return DataType(
                name, e, ENUM, type_length(e), tagname=e.name or "(unknown)", value=int(obj.value_())
            )
    return None


def member_offset(session: Session, dm: DataType, member: str) -> int:
    """crash's MEMBER_OFFSET(name, member): a direct member, or one inside anonymous structs/unions."""
    s = strip(dm.type)
    if not isinstance(s, StructType) or not s.is_complete:
        return -1
    hit = _find_member(s, member, 0)
    return hit // 8 if hit is not None else -1


def _find_member(s: StructType, member: str, base: int) -> int | None:
    for m in s.members():
        if m.name == member:
            return base + m.bit_offset
        if not m.name:
            inner = strip(m.type)
            if isinstance(inner, StructType):
                hit = _find_member(inner, member, base + m.bit_offset)
                if hit is not None:
                    return hit
    return None


def anon_member_offset(session: Session, name: str, member: str) -> int:
    """crash's ANON_MEMBER_OFFSET(): gdb's `&((struct name *)0x0)->member` (then `union name`)."""
    for kind in ("struct", "union"):
        try:
            obj = evaluate(session.prog, f"&(({kind} {name} *)0x0)->{member}")
            return int(obj.value_())
        except CrashpyError:
            continue
    return -1


def member_to_datatype(session: Session, dm: DataType, member: str, anon: bool = True) -> bool:
    dm.member = member
    off = member_offset(session, dm, member)
    if off < 0 and anon:
        off = anon_member_offset(session, dm.name, member)
    dm.member_offset = off
    return off >= 0


def arg_to_datatype(session: Session, s: str, query: bool = False) -> tuple[int, DataType | None]:
    """crash's arg_to_datatype(..., RETURN_ON_ERROR): (1, dm) for a type, (2, dm) with a .member,
    (0, None) when bogus. With `query` (DATATYPE_QUERY) a .member is cut off and ignored."""
    name = s
    member: str | None = None
    if "." in s:
        if query:
            name = s[: s.index(".")]
        else:
            k = s.index(".")
            name, member = s[:k], s[k + 1 :]
            if k == 0 or not member or "." in member:
                return 0, None
    dm = datatype_info(session, name)
    if dm is None or dm.kind is None:
        return 0, None
    if member is None:
        return 1, dm
    if member_to_datatype(session, dm, member, anon=False):
        return 2, dm
    return 0, None


# ---------------------------------------------------------------------------------------------------------
# do_datatype_declaration and show_member_offset


def ptype_lines(session: Session, dm: DataType, typedef: bool, kind: str | None) -> list[str]:
    """crash's whatis_datatype(): gdb's `ptype [struct|union] name` text, as lines."""
    if typedef:
        request = dm.name
    elif kind == UNION_REQUEST:
        request = f"union {dm.name}"
    elif kind == STRUCT_REQUEST:
        request = f"struct {dm.name}"
    else:
        return []
    try:
        text = gdb_type_text(session, request, 1)
    except CrashpyError:
        if kind not in (STRUCT_REQUEST, UNION_REQUEST):
            return []
        try:
            text = gdb_type_text(session, dm.name, 1)
        except CrashpyError:
            return []
    return fgets_lines(text)


def datatype_declaration(
    session: Session, dm: DataType, typedef: bool, kind: str | None, show_offset: bool, radix: int
) -> str:
    """crash's do_datatype_declaration(): the definition (or one member of it) with crash's edits."""
    if dm.member and "." in dm.member:
        raise CrashpyError(f"invalid data structure reference: {dm.name}.{dm.member}")
    lines = ptype_lines(session, dm, typedef, kind)
    if dm.member:
        show_offset = True
    out: list[str] = []
    multiline = False
    for buf in lines:
        if buf.startswith("type = "):
            multiline = "{" in buf
            if typedef:
                out.append("typedef ")
            p1 = buf[len("type = ") :]
            if "(*)()" in buf:
                out.append(p1[: p1.index("(*)()")] + f"(*{dm.name})();\n")
            elif "()" in buf:
                out.append(p1[: p1.index("()")] + f"({dm.name})();\n")
            elif multiline:
                out.append(p1)
            else:
                out.append(f"{p1.rstrip(chr(10))} {dm.name};\n")
        elif multiline and buf.startswith("}") and typedef:
            if "} **()" in buf:
                out.append(f"}} **({dm.name})();\n")
            else:
                out.append(f"{buf.rstrip(chr(10))} {dm.name};\n")
        elif show_offset and buf[:1] in (" ", "\t"):
            show_member_offset(session, out, dm, buf, radix)
        else:
            out.append(buf)
    if not dm.member:
        out.append(f"SIZE: 0x{dm.size:x}\n" if radix == 16 else f"SIZE: {dm.size}\n")
    return "".join(out)


def _clean_target(target: str) -> str:
    for ch in "*[];()":
        target = target.replace(ch, " ")
    target = target.strip()
    k = target.find(" ")
    return target[:k] if k >= 0 else target


def show_member_offset(session: Session, out: list[str], dm: DataType, inbuf: str, radix: int) -> bool:
    """crash's show_member_offset(): a member line of gdb's ptype with `[offset]` (or `[address]`) before it."""
    if not inbuf.startswith("    "):
        out.append(f"rejecting: {inbuf}")
        return False
    if inbuf.startswith("    union {"):
        dm.in_union = True
    if inbuf.startswith("    struct {"):
        dm.in_struct = True
    end_of_block = inbuf.startswith("    } ")
    size_text = f"0x{dm.size:x}" if radix == 16 else f"{dm.size}"
    length = len(size_text) + 4
    arglist = parse_line(inbuf)
    c = len(arglist)
    target: str | None = None
    if ":" in inbuf:
        for i in range(1, c):
            if arglist[i] == ":":
                target = arglist[i - 1]
                break
    elif c:
        i = 0
        while i < c:
            if "(*" in inbuf:
                a = arglist[i]
                if a.startswith("(*"):
                    target = a[2:]
                elif a.startswith("*(*"):
                    target = a[3:]
                elif a.startswith("**(*"):
                    target = a[4:]
                else:
                    i += 1
                    continue
                k = target.find(")")
                if k < 0:
                    i += 1
                    continue
                target = target[:k]
                break
            i += 1
        if i == c:
            target = arglist[c - 1]
            if ";" not in target:
                target = None
    if target is not None:
        target = _clean_target(target)
    if not target:
        return _empty_offset(out, dm, inbuf, end_of_block, size_text)
    if dm.member and dm.member != target:
        if end_of_block:
            dm.in_union = dm.in_struct = False
        return False
    offset = member_offset(session, dm, target)
    if offset == -1:
        offset = anon_member_offset(session, dm.name, target)
    if offset == -1:
        return _empty_offset(out, dm, inbuf, end_of_block, size_text)
    if end_of_block and dm.member:
        out.append(" " * (length + 1))
        if dm.in_union and not dm.in_struct:
            out.append("union {\n")
        elif dm.in_struct and not dm.in_union:
            out.append("struct {\n")
        dm.in_union = dm.in_struct = False
    if dm.vaddr:
        buf1 = f"  [{offset + dm.vaddr:x}]"
    else:
        buf1 = f"  [{offset}]" if radix != 16 else f"  [0x{offset:x}]"
    out.append(f"{buf1:>{length}}")
    out.append(inbuf[3:])
    return True


def _empty_offset(out: list[str], dm: DataType, inbuf: str, end_of_block: bool, size_text: str) -> bool:
    if end_of_block:
        dm.in_union = dm.in_struct = False
    if dm.member:
        return False
    out.append(" " * (len(size_text) + 1) + inbuf)
    return False


# ---------------------------------------------------------------------------------------------------------
# The command


def whatis_variable(session: Session, name: str) -> str:
    """crash's whatis_variable(): the declaration `type name;` made from gdb's `whatis name`."""
    try:
        text = gdb_type_text(session, name, -1)
    except CrashpyError:
        if not session.prog.debuginfo and session.prog.symbols.lookup(name) is not None:
            raise CrashpyError(
                f"'{name}' has unknown type (no vmlinux, and the kernel's BTF does not record it); "
                f"cast it to its declared type: p *(unsigned long *)&{name}"
            ) from None
        raise CrashpyError(f"gdb request failed: whatis {name}") from None
    buf = text.splitlines()[0] if text else "type = "
    buf = buf.strip()
    body = buf[len("type = ") :] if buf.startswith("type = ") else buf
    if "[" in buf:
        k = body.index("[")
        return body[:k] + name + body[k:] + ";\n"
    if "(" in buf:
        if buf.index("(") == buf.rindex("("):
            k = body.index("(")
        else:
            k = body.index(")")
        return body[:k] + name + body[k:] + ";\n"
    sep = "" if body.endswith("*") else " "
    return f"{body}{sep}{name};\n"


HELP = """\
NAME
  whatis - search symbol table for data or type information

SYNOPSIS
  whatis [[-o] [struct | union | typedef | symbol]] |<SP>
         [[-r [size|range]] [-m member]]

DESCRIPTION
  Tells what a name stands for: the declaration of a structure, union or
  typedef, or the type of a text or data symbol.

    struct  the name of a structure type; printed as "struct" prints it.
     union  the name of a union type; printed as "union" prints it.
        -o  put each member's offset in front of it.
   typedef  the name of a typedef.  One that stands for a structure or a
            union is printed as "struct" or "union" prints it; one that
            stands for a basic type is printed as its declaration, on one
            line.
    symbol  the name of a kernel symbol; its declaration is printed.

  The other form looks for structures and unions instead.  -r and -m can be
  used alone or together:

   -r size  those whose size is exactly this many bytes.
  -r range  those whose size lies in "low-high".
 -m member  those with a member of this type or of a pointer to it, looking
            inside embedded structures as well; part of a type's name is
            enough.

EXAMPLES
  A structure, with its members' offsets:

    crash> whatis -o list_head
    struct list_head {
       [0] struct list_head *next;
       [8] struct list_head *prev;
    }
    SIZE: 16

  A typedef of a basic type, and a data symbol:

    crash> whatis pid_t
    typedef int pid_t;
    SIZE: 4
    crash> whatis jiffies
    volatile unsigned long jiffies;

  The structures and unions that refer to an mm_struct:

    crash> whatis -m mm_struct
     SIZE  TYPE
       24  map_info
       24  trace_event_raw_exit_mmap
    ...
     9728  task_struct
    40504  kvm
""".replace("<SP>", " ")


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "whatis")


@command("whatis", summary="search symbol table for data or type information", help=HELP)
def cmd_whatis(session: Session, args: list[str]) -> None:
    argv = command_args(session.current_line, args)
    parsed = getopt(argv, "om:r:")
    show_offset = False
    member: str | None = None
    lowest = highest = 0
    do_request = False
    for opt, val in parsed.opts:
        if opt == "o":
            show_offset = True
        elif opt == "m":
            member = val
            do_request = True
        elif opt == "r":
            assert val is not None
            text = val[:15]
            lo, _, hi = text.partition("-")
            lowest = highest = _stol(lo)
            if hi:
                highest = _stol(hi)
            do_request = True
    for err in parsed.errors:
        session.println(f"whatis: {err}")
    if not parsed.errors and do_request:
        request_types(session, lowest, highest, member)
        return
    if parsed.errors or not parsed.args:
        _usage(session)
        return
    rest = list(parsed.args)
    if rest[0] in ("struct", "union", "enum"):
        rest = rest[1:]
    else:
        from crashpy.object import module_function_type, module_variable

        sym = session.prog.symbols.lookup(rest[0])
        if sym is not None:
            session.write(whatis_variable(session, sym.name))
            return
        prog = session.prog
        if module_variable(prog, rest[0]) is not None or module_function_type(prog, rest[0]) is not None:
            session.write(whatis_variable(session, rest[0]))  # a loaded module's (mod -s)
            return
    if not rest:
        _usage(session)
        return
    arg = rest[0]
    code, dm = arg_to_datatype(session, arg)
    whole = " ".join(argv)
    if code and dm is not None:
        if dm.size < 0:
            return _failure(session, whole)
        if dm.kind == ENUM:
            if dm.tagname is not None:
                prefix = "typedef " if dm.typedef else ""
                sep = " " if dm.tagname else ""
                session.println(f"{prefix}enum{sep}{dm.tagname} = {dm.value}")
            else:
                session.write(enumerator_list(session, arg, dm))
            return
        radix = session.radix
        session.write(datatype_declaration(session, dm, dm.typedef, dm.kind, show_offset, radix))
        return
    try:
        text = gdb_type_text(session, whole, -1)
    except (CrashpyError, GdbFailed):
        return _failure(session, whole)
    for line in text.splitlines(keepends=True):
        session.write(line[len("type = ") :] if line.startswith("type = ") else line)


def _stol(s: str) -> int:
    from crashpy.helpers.numbers import stol

    v = stol(s)
    if v is None:
        raise CrashpyError(f"invalid number: {s}")
    return v


def _failure(session: Session, whole: str) -> None:
    session.println(f"whatis: cannot resolve: {whole}")
    _usage(session)
    session.errors += 1


def enumerator_list(session: Session, name: str, dm: DataType) -> str:
    """crash's dump_enumerator_list() (gdb's dump_enum): each enumerator with its value."""
    e = strip(dm.type)
    assert isinstance(e, EnumType)
    out = ["typedef " if dm.typedef else ""]
    out.append(f"enum {e.name} {{\n" if e.name else "enum {\n")
    lastval = 0
    for k, v in e.enumerators.items():
        out.append(f"  {k}")
        if lastval != v:
            out.append(f" = {v}")
            lastval = v
        else:
            out.append(f" = {lastval}")
        out.append("\n")
        lastval += 1
    out.append("};\n" if e.name else f"}} {name};\n")
    return "".join(out)


def request_types(session: Session, lowest: int, highest: int, member: str | None) -> None:
    """`whatis -r size[-size]` / `-m type`: the types of those sizes, or the structs and unions with a
    member whose type name contains `type` (crash's request_types over gdb's iterate_datatypes)."""
    try:
        btf = session.prog.btf
    except CrashpyError as e:
        raise CrashpyError(str(e)) from None
    from crashpy.types.btf import KIND_ENUM, KIND_ENUM64, KIND_INT, KIND_STRUCT, KIND_TYPEDEF, KIND_UNION

    kinds = (KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_TYPEDEF, KIND_INT)
    found: dict[str, int] = {}
    for tid in range(1, btf.n_types):
        if btf.raw_kind(tid) not in kinds:
            continue
        t = btf.by_id(tid)
        name = type_name_of(t)
        if not name or name in found:
            continue
        length = type_length(t)
        if highest and not (lowest <= length <= highest):
            continue
        if member is not None:
            if not isinstance(t, StructType) or not _struct_contents(t, member, 0):
                continue
        found[name] = length
    if not found:
        session.println("(none found)")
        return
    entries = sorted(found.items(), key=lambda kv: (kv[1], kv[0].encode()))
    width = max(len(str(entries[-1][1])), len("SIZE"))
    session.println(f"{'SIZE':>{width}}  TYPE")
    for name, size in entries:
        session.println(f"{size:>{width}}  {name}")


def type_name_of(t: Type) -> str | None:
    from crashpy.types.gdb_view import type_name

    return type_name(t)


def _struct_contents(t: StructType, type_name: str, depth: int) -> bool:
    """gdb-10.2.patch lookup_struct_contents(): a member (or a member of a struct member, however deep)
    whose type's name contains `type_name`; arrays and pointers count by their target."""
    if depth > 64 or not t.is_complete:
        return False
    for m in t.members():
        mt = peel(m.type)[0]
        if mt.kind is TypeKind.ARRAY:
            mt = peel(mt.element)[0]  # type: ignore[attr-defined]
        if mt.kind is TypeKind.STRUCT:
            assert isinstance(mt, StructType)
            if _struct_contents(mt, type_name, depth + 1):
                return True
        if mt.kind is TypeKind.POINTER:
            mt = peel(mt.target)[0]
        n = type_name_of(mt) if mt.kind not in (TypeKind.POINTER, TypeKind.ARRAY, TypeKind.FUNCTION) else None
        if n and type_name in n:
            return True
    return False


__all__ = [
    "DataType",
    "arg_to_datatype",
    "datatype_declaration",
    "datatype_info",
    "member_to_datatype",
    "show_member_offset",
]
