"""crashpy.expr: gdb's C expression language as crash hands it to gdb (`p`, `whatis`, `ptype`, ...).

    from crashpy.expr import evaluate, type_of, lookup_type
    obj = evaluate(prog, "init_task.tasks.next")         # an Object
    t = type_of(prog, "init_task.comm")                   # char [16], no memory read
    t = lookup_type(prog, "struct task_struct *")

Errors are GdbError, one line in gdb's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.expr.errors import GdbError
from crashpy.expr.evaluator import BUILTIN_TYPES, Evaluator, Scope, ValueHistory, expression_type
from crashpy.expr.parser import Node, TypeExpr, parse, parse_type

if TYPE_CHECKING:
    from crashpy.object import Object
    from crashpy.program import Program
    from crashpy.types.model import Type


def scope(prog: Program | None) -> Scope:
    """The name scope of `prog` (one per Program: it caches the enumerator index)."""
    if prog is None:
        return Scope(None)
    return prog.cache("expr_scope", lambda: Scope(prog))  # type: ignore[no-any-return]


def parse_expression(prog: Program | None, text: str) -> Node:
    return parse(text, scope(prog))


def evaluate(prog: Program | None, text: str, history: ValueHistory | None = None) -> Object:
    """The value of C expression `text`."""
    node = parse(text, scope(prog))
    if isinstance(node, TypeExpr):
        raise GdbError("Attempt to use a type name as an expression")
    return Evaluator(scope(prog), history).evaluate(node)


def type_of(prog: Program | None, text: str, history: ValueHistory | None = None) -> Type:
    """The type of expression `text` (or the type it names), without reading memory it need not."""
    return expression_type(scope(prog), parse(text, scope(prog)), history)


def lookup_type(prog: Program | None, text: str) -> Type:
    """The type a C type name spells: "struct list_head *", "unsigned long", "pid_t"."""
    return parse_type(text, scope(prog))


__all__ = [
    "BUILTIN_TYPES",
    "Evaluator",
    "GdbError",
    "Scope",
    "ValueHistory",
    "evaluate",
    "lookup_type",
    "parse_expression",
    "scope",
    "type_of",
]
