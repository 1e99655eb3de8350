"""Look-ups of types by their C spelling ("struct task_struct", "const char *", "pid_t"), shared by every
type source (BTF, DWARF), and the flattened member walk."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from crashpy.types.model import (
    ArrayType,
    Member,
    PointerType,
    QualifiedType,
    Type,
    TypeKind,
    VoidType,
    no_type_error,
)


class TypeIndex(Protocol):
    """A source of named types: the BTF reader, later DWARF, or both chained."""

    @property
    def pointer_size(self) -> int: ...

    def find(self, name: str, kind: str | None = None) -> Type | None: ...


TYPE_KIND_NAMES = ("struct", "union", "enum", "typedef", "int", "float", "func", "var", "datasec")
_TAG_PREFIX = re.compile(r"^(struct|union|enum)\s+(.+)$")
_SUFFIX = re.compile(r"(\*|\[\s*(?:0x[0-9a-fA-F]+|\d+)?\s*\])\s*$")


def split_tag(spelling: str) -> tuple[str | None, str]:
    """("struct", "task_struct") for "struct task_struct"; (None, name) without a tag."""
    m = _TAG_PREFIX.match(spelling.strip())
    if m:
        return m.group(1), m.group(2).strip()
    return None, spelling.strip()


def lookup_type(index: TypeIndex, spelling: str, bare_tags: bool = True) -> Type:
    """The type a C type name spells: "struct task_struct", "unsigned long", "pid_t", "char *",
    "struct list_head *[4]", "const char *". With bare_tags a bare name may name a struct, union or
    enum too ("task_struct"), as crash's commands accept. Raises TypeLookupError in gdb's words."""
    text = spelling.strip()
    suffixes: list[str] = []
    while True:
        m = _SUFFIX.search(text)
        if not m or m.start() == 0:
            break
        suffixes.append(m.group(1))
        text = text[: m.start()].rstrip()
    words = text.split()
    quals = [w for w in words if w in ("const", "volatile", "restrict")]
    words = [w for w in words if w not in ("const", "volatile", "restrict")]
    t = _lookup_named(index, " ".join(words), bare_tags)
    for q in quals:
        t = QualifiedType(TypeKind(q), t)
    # Suffixes were collected right to left. The pointers bind first ("int *[4]" is an array of
    # pointers), then the dimensions from the innermost (rightmost) out: "int [4][14]" is 4 of 14.
    for s in reversed(suffixes):
        if s == "*":
            t = PointerType(t, index.pointer_size)
    for s in suffixes:
        if s != "*":
            inside = s[1:-1].strip()
            t = ArrayType(t, int(inside, 0) if inside else 0, is_flexible=not inside)
    return t


def _lookup_named(index: TypeIndex, text: str, bare_tags: bool) -> Type:
    tag, name = split_tag(text)
    if tag is not None:
        t = index.find(name, tag)
        if t is None:
            raise no_type_error(tag, name)
        return t
    if name == "void":
        return VoidType()
    for kind in ("typedef", "int", "float"):
        t = index.find(name, kind)
        if t is not None:
            return t
    if bare_tags:
        for kind in ("struct", "union", "enum"):
            t = index.find(name, kind)
            if t is not None:
                return t
    raise no_type_error(None, name)


def iter_members_recursive(t: Type, base: int = 0) -> Iterable[tuple[int, Member]]:
    """Every named member of struct/union `t`, anonymous members flattened, with absolute bit offsets."""
    for m in t.members():
        if m.name:
            yield base + m.bit_offset, m
        else:
            yield from iter_members_recursive(m.type, base + m.bit_offset)


__all__ = ["TYPE_KIND_NAMES", "TypeIndex", "iter_members_recursive", "lookup_type", "split_tag"]
