"""tree: the entries of a red-black tree, radix tree, XArray or maple tree (crash's cmd_tree, tools.c and
maple_tree.c), each optionally shown with a structure or members of it as `list -s/-S` shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.list import StructRequest, member_offset_arg, start_argument, usage
from crashpy.commands.registry import command
from crashpy.errors import CrashpyError
from crashpy.helpers.list import DuplicateEntry
from crashpy.helpers.maple_tree import (
    MapleContents,
    MapleEntry,
    MapleNodeHeader,
    MapleNote,
    MapleTreeHeader,
    maple_walk,
    mt_is_reserved,
    xa_is_value,
    xa_is_zero,
)
from crashpy.helpers.numbers import command_args, getopt, htol, is_a_number, radix_option
from crashpy.helpers.radix_tree import radix_tree_is_xarray, radix_tree_map_mask, radix_tree_walk
from crashpy.helpers.rbtree import RbNote, rb_root_node, rbtree_walk
from crashpy.helpers.xarray import xa_layout, xa_walk

if TYPE_CHECKING:
    from crashpy.session import Session

RADIX, RBTREE, XARRAY, MAPLE = "radix", "rbtree", "xarray", "maple"
TYPE_NAMES = {RADIX: "radix trees", RBTREE: "rbtrees", XARRAY: "Xarrays", MAPLE: "maple trees"}

HELP = """\
NAME
  tree - display radix tree, XArray, red-black tree or maple tree

SYNOPSIS
  tree [-t [radix|xarray|rbtree|maple]] [-r offset] [-[s|S] struct[.member[,member]]]
       -[x|d] [-o offset] [-l] [-p] [-v] [-N] start

DESCRIPTION
  This command shows the entries of a radix tree, an XArray, a red-black tree
  or a maple tree.  The arguments are as follows:

    -t type  The kind of tree: "radix", "rbtree", "xarray" or "maple", or
             their abbreviations "ra", "rb", "x" and "m".  Without -t the
             tree is taken for a red-black tree.
  -r offset  When "start" is a structure that contains the radix_tree_root,
             maple_tree, xarray or rb_root, the offset of that member; needed
             when it is not zero.  A "structure.member" or a number of bytes.
  -o offset  Red-black trees only: the offset of the rb_node in the structures
             of the tree; needed when it is not zero.  A "structure.member" or
             a number of bytes.
  -s struct  Print each entry as this structure; "struct.member" prints one
             member, and "struct.member,member,..." several.  An embedded
             structure or an array element can be chosen with
             "struct.member.member" or "struct.member[index]", as deep as
             needed.
  -S struct  Like -s, but members of 1, 2, 4 or 8 bytes are read straight from
             memory instead of being cut out of the printed structure, which
             is much faster.
         -l  Red-black trees only: show the nodes in order, from the leftmost
             to the rightmost.
         -p  Show where each entry sits: for red-black trees the path from the
             root ("root/l/r" is the right child of the root's left child); for
             radix trees, XArrays and maple trees the index and the slot path.
         -x  Print the members' numbers in hexadecimal, whatever the radix.
         -d  Print the members' numbers in decimal, whatever the radix.
         -v  Maple trees only: dump every node of the tree as well.

  The "start", a hexadecimal address or a symbol, means:

      start  The address of a radix_tree_root, maple_tree, xarray or rb_root,
             or of a structure that contains one (see -r).
   -N start  The address of a radix_tree_node, maple_node, xa_node or rb_node,
             walked without the root that points to it.

EXAMPLES
  The vmap_area structures of the vmap_area_root red-black tree:

    crash> tree -t rbtree vmap_area_root -o vmap_area.rb_node
    ffff888003c4e340
    ffff888003c4e2c0
    ...

  With their start and end addresses, in address order, and their positions:

    crash> tree -t rbtree -o vmap_area.rb_node vmap_area_root -l -p -s vmap_area.va_start,va_end
    ffff888003c4e440
      position: root/l/l/l/l
      va_start = 18446683600570023936,
      va_end = 18446683600570044416,
    ...

  The pid structures of the initial pid namespace's IDR, an XArray:

    crash> tree -t xarray -r pid_namespace.idr init_pid_ns -p
    ffff888003e05880
      index: 1  position: root/0/1
    ...
"""


def _tree_type(session: Session, arg: str) -> str | None:
    if arg.startswith("ra"):
        return XARRAY if radix_tree_is_xarray(session.prog) else RADIX
    if arg.startswith("rb"):
        return RBTREE
    if arg.startswith("x"):
        return XARRAY
    if arg.startswith("m"):
        return MAPLE
    return None


def _p(value: int) -> str:
    """glibc's %p."""
    return f"0x{value:x}" if value else "(nil)"


@command("tree", summary="display radix tree, XArray, red-black tree or maple tree", help=HELP)
def cmd_tree(session: Session, args: list[str]) -> None:

    argv = command_args(session.current_line, args)
    cmd = session.current_cmd
    parsed = getopt(argv, "xdt:r:o:s:S:plNv")
    kind: str | None = None
    root_offset: int | None = None
    node_offset: int | None = None
    structs = StructRequest()
    seen_s = seen_S = False
    position = linear = node_pointer = verbose = False
    radix = 0
    for opt, val in parsed.opts:
        if opt == "t":
            assert val is not None
            if kind is not None:
                session.println(f"{cmd}: multiple tree types may not be entered")
                usage(session, "tree")
                return
            kind = _tree_type(session, val)
            if kind is None:
                session.println(f"{cmd}: invalid tree type: {val}")
                usage(session, "tree")
                return
        elif opt == "l":
            linear = True
        elif opt in ("r", "o"):
            assert val is not None
            which = "root" if opt == "r" else "node"
            entered = root_offset if opt == "r" else node_offset
            if entered is not None:
                raise CrashpyError(f"{which} offset value {entered} (0x{entered:x}) already entered")
            off = member_offset_arg(session, val)
            if off is None:
                raise CrashpyError(f"invalid -{opt} argument: {val}")
            if opt == "r":
                root_offset = off
            else:
                node_offset = off
        elif opt in ("s", "S"):
            assert val is not None
            structs.specs.append(val)
            seen_s |= opt == "s"
            seen_S |= opt == "S"
            structs.read_members = seen_S
            if seen_s and seen_S:
                raise CrashpyError("-S and -s options are mutually exclusive")
        elif opt == "p":
            position = True
        elif opt == "N":
            node_pointer = True
        elif opt in "xd":
            radix = radix_option(radix, 10 if opt == "d" else 16)
        elif opt == "v":
            verbose = True
    for err in parsed.errors:
        session.println(f"{cmd}: {err}")
    if parsed.errors:
        usage(session, "tree")
        return
    kind = kind or RBTREE
    if kind != RBTREE and linear:
        raise CrashpyError(f"-l option is not applicable to {TYPE_NAMES[kind]}")
    if kind != RBTREE and node_offset is not None:
        raise CrashpyError(f"-o option is not applicable to {TYPE_NAMES[kind]}")
    if kind != MAPLE and verbose:
        raise CrashpyError(f"-v option is not applicable to {TYPE_NAMES[kind]}")
    if root_offset is not None and node_pointer:
        raise CrashpyError("-r and -N options are mutually exclusive")
    if not parsed.args:
        session.println(f"{cmd}: a starting address is required")
        usage(session, "tree")
        return
    arg = parsed.args[0]
    start = start_argument(session, arg)
    if start is None:
        if not is_a_number(arg):
            raise CrashpyError(f"invalid start argument: {arg}")
        from crashpy.commands.list import _is_kvaddr, hexadecimal_only

        value = htol(arg) if hexadecimal_only(arg) else None
        if value is None or not _is_kvaddr(session, value):
            raise CrashpyError(f"invalid start argument: {arg}")
        start = value
    if len(parsed.args) > 1:
        session.println(f"{cmd}: too many arguments entered")
        usage(session, "tree")
        return
    if not node_pointer:
        start += root_offset or 0
    try:
        if kind == RBTREE:
            _rbtree(session, start, node_pointer, node_offset or 0, linear, position, structs, radix)
        elif kind == MAPLE:
            _maple(session, start, node_pointer, verbose, position, structs, radix)
        else:
            _slots(session, kind, start, node_pointer, position, structs, radix)
    except DuplicateEntry as e:
        session.write(f"\n{cmd}: {e}\n")
        session.errors += 1


def _rbtree(
    session: Session,
    start: int,
    node_pointer: bool,
    node_offset: int,
    linear: bool,
    position: bool,
    structs: StructRequest,
    radix: int,
) -> None:
    prog = session.prog
    top = start if node_pointer else rb_root_node(prog, start)
    for ev in rbtree_walk(prog, top, linear):
        if isinstance(ev, RbNote):
            session.write(f"{session.current_cmd}: {ev.text}")
            continue
        structs.prepare(session)
        addr = ev.node - node_offset
        session.write(f"{addr:x}\n")
        if position:
            session.write(f"  position: {ev.position}\n")
        if structs.specs:
            structs.show(session, addr, radix)


def _slots(
    session: Session,
    kind: str,
    start: int,
    node_pointer: bool,
    position: bool,
    structs: StructRequest,
    radix: int,
) -> None:
    prog = session.prog
    if kind == RADIX:
        walker = radix_tree_walk(prog, start, not node_pointer)
        mask = radix_tree_map_mask(prog)
    else:
        walker = xa_walk(prog, start, not node_pointer)
        mask = xa_layout(prog).chunk_mask
    for ev in walker:
        structs.prepare(session)
        session.write(f"{ev.slot:x}\n")
        if position:
            session.write(f"  index: {_signed(ev.index)}  position: {ev.path}/{_signed(ev.index & mask)}\n")
        if structs.specs:
            structs.show(session, ev.slot, radix)


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _range(lo: int, hi: int, depth: int) -> str:
    pad = " " * min(depth * 2, 32)
    return f"{pad}{lo}: " if lo == hi else f"{pad}{lo}-{hi}: "


def _maple(
    session: Session,
    start: int,
    node_pointer: bool,
    verbose: bool,
    position: bool,
    structs: StructRequest,
    radix: int,
) -> None:
    out = session.write
    index = 0
    for ev in maple_walk(session.prog, start, not node_pointer):
        if isinstance(ev, MapleEntry):
            structs.prepare(session)
            e = ev.entry
            if verbose:
                out(_range(ev.min, ev.max, ev.depth))
                if xa_is_value(e):
                    out(f"value {_signed(e >> 1)} (0x{e >> 1:x}) [0x{e:x}]\n")
                elif xa_is_zero(e):
                    out(f"zero ({_signed(e >> 2)})\n")
                elif mt_is_reserved(e):
                    out(f"UNKNOWN ENTRY (0x{e:x})\n")
                else:
                    out(f"0x{e:x}\n")
            elif e:
                out(f"{e:x}\n")
            if position and e:
                index += 1
                out(f"  index: {index}  position: {ev.path}/{ev.slot}\n")
            if structs.specs and e:
                structs.show(session, e, radix)
        elif isinstance(ev, MapleNote):
            out(ev.text)
        elif not verbose:
            continue
        elif isinstance(ev, MapleTreeHeader):
            out(f"maple_tree({ev.tree:x}) flags {ev.flags:X}, height {ev.height} root 0x{ev.root:x}\n\n")
        elif isinstance(ev, MapleNodeHeader):
            out(_range(ev.min, ev.max, ev.depth))
            out(
                f"node 0x{ev.node:x} depth {ev.depth} type {ev.type} parent {_p(ev.parent) if ev.node else '(nil)'}"
            )
        elif isinstance(ev, MapleContents):
            out(" contents: ")
            if ev.gaps is not None:
                out("".join(f"{g} " for g in ev.gaps))
                out(f"| {ev.meta_end:02X} {ev.meta_gap:02X}| ")
            out("".join(f"{_p(s)} {p} " for s, p in zip(ev.slots, ev.pivots, strict=False)))
            out(f"{_p(ev.slots[len(ev.pivots)])}\n")
