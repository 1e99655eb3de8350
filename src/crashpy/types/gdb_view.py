"""The gdb view of a model type: gdb's check_typedef, TYPE_CODE, TYPE_NAME, TYPE_LENGTH and friends.

A gdb type carries its qualifiers as flags; here they are QualifiedType wrappers, peeled by `peel`.
gdb 10 spells integer types with the compiler's names ("long unsigned int"), so the raw names are used.
"""

from __future__ import annotations

from crashpy.errors import CrashpyError
from crashpy.types.model import (
    QUALIFIER_KINDS,
    ArrayType,
    EnumType,
    FuncDecl,
    FunctionType,
    IntType,
    QualifiedType,
    Type,
    TypeKind,
    VarDecl,
)


def peel(t: Type) -> tuple[Type, frozenset[TypeKind]]:
    """(t without its qualifier wrappers, the qualifiers); declarations give their type."""
    quals: set[TypeKind] = set()
    for _ in range(64):
        if t.kind in QUALIFIER_KINDS:
            quals.add(t.kind)
            t = t.target
        elif isinstance(t, (VarDecl, FuncDecl)):
            t = t.type
        else:
            break
    return t, frozenset(quals)


def _requal(t: Type, quals: frozenset[TypeKind]) -> Type:
    for q in (TypeKind.RESTRICT, TypeKind.VOLATILE, TypeKind.CONST):
        if q in quals:
            t = QualifiedType(q, t)
    return t


def check_typedef(t: Type) -> Type:
    """gdb's check_typedef: every typedef resolved, the qualifiers met on the way kept."""
    quals: set[TypeKind] = set()
    for _ in range(256):
        base, q = peel(t)
        quals |= q
        if base.kind is TypeKind.TYPEDEF:
            t = base.target
            continue
        return _requal(base, frozenset(quals)) if quals else base
    return t


def strip(t: Type) -> Type:
    """The type under all typedefs and qualifiers (gdb's check_typedef, qualifiers dropped)."""
    for _ in range(256):
        base, _q = peel(t)
        if base.kind is TypeKind.TYPEDEF:
            t = base.target
            continue
        return base
    return t


def type_code(t: Type) -> TypeKind:
    return peel(t)[0].kind


def type_name(t: Type) -> str | None:
    """gdb's TYPE_NAME: the tag of a struct/union/enum, the name of a typedef or base type; None for
    pointers, arrays and functions."""
    base = peel(t)[0]
    if base.kind in (TypeKind.POINTER, TypeKind.ARRAY):
        return None
    if isinstance(base, IntType):
        return base._base_name(False)
    return base.name


def target_type(t: Type) -> Type:
    base = peel(t)[0]
    if isinstance(base, ArrayType):
        return base.element
    if isinstance(base, FunctionType):
        return base.return_type
    return base.target


def is_unsigned(t: Type) -> bool:
    s = strip(t)
    if isinstance(s, IntType):
        return not s.signed or s.is_bool
    if isinstance(s, EnumType):
        return all(v >= 0 for v in s.enumerators.values())
    return s.kind is TypeKind.POINTER


def type_length(t: Type) -> int:
    """TYPE_LENGTH after check_typedef; 0 where there is none (void, functions: gdb says 1 for those)."""
    s = strip(t)
    if s.kind is TypeKind.VOID or s.kind is TypeKind.FUNCTION:
        return 1
    try:
        return s.size
    except CrashpyError:  # incomplete types have length 0 in gdb
        return 0


__all__ = ["check_typedef", "is_unsigned", "peel", "strip", "target_type", "type_code", "type_length", "type_name"]
