"""ptype (and gdb's whatis): gdb's type printing, which crash passes straight through to gdb.

    crash> ptype struct list_head
    type = struct list_head {
        struct list_head *next;
        struct list_head *prev;
    }

The command itself is registered with gdb's other pass-through commands (commands/p.py: `gdb`, with
`ptype` and `ptype/o` as names it answers to); this module turns a ptype/whatis request into gdb's text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.expr import GdbError, parse_expression, scope
from crashpy.expr.evaluator import expression_type
from crashpy.expr.parser import TypeExpr
from crashpy.types.gdb_view import peel
from crashpy.types.model import TypeKind
from crashpy.types.typeprint import whatis_text

if TYPE_CHECKING:
    from crashpy.session import Session


def gdb_type_text(session: Session, expr: str, show: int, offsets: bool = False) -> str:
    """gdb's whatis (show -1) / ptype (show 1) of an expression or a type name: `type = ...\\n`.

    whatis of a type name strips one typedef level; of an expression it keeps the expression's type;
    ptype strips every typedef (typeprint.c: whatis_exp)."""
    if not expr.strip():
        hist = session.gdb.history
        t = hist.get(0).type_
        return whatis_text(t, show, offsets)
    node = parse_expression(session.prog, expr)
    if isinstance(node, TypeExpr):
        t = node.type
        if show < 0:
            base = peel(t)[0]
            if base.kind is TypeKind.TYPEDEF and base is t:
                t = base.target
    else:
        t = expression_type(scope(session.prog), node, session.gdb.history)
    return whatis_text(t, show, offsets)


def gdb_type_command(session: Session, name: str, flags: str | None, rest: str) -> str:
    """`ptype[/flags] expr` or `whatis[/flags] expr` as gdb answers them."""
    show = 1 if name == "ptype" else -1
    offsets = False
    if flags is not None:
        if not flags:
            raise GdbError("flag expected")
        for ch in flags:
            if ch == "o":
                offsets = show > 0
            elif ch not in "rmMtT":
                raise GdbError(f"unrecognized flag '{ch}'")
    return gdb_type_text(session, rest, show, offsets)
