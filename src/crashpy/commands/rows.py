"""Rows as JSON: what the commands' `--json` documents share (docs/json.md).

A command builds its rows (dataclasses, Objects) once and writes them either as crash's text or, with
--json, as a document of plain data: addresses as strings of lowercase hexadecimal digits without
"0x" (as crash prints them), counts and sizes as numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.errors import CommandError, CrashpyError

if TYPE_CHECKING:
    from crashpy.helpers.numbers import Options
    from crashpy.object import Object


def hex_address(value: int) -> str:
    """An address as the JSON documents give it: lowercase hexadecimal digits, no "0x"."""
    return f"{value:x}"


def text(raw: bytes) -> str:
    """Bytes of the dump (a message, a name) as a JSON string."""
    return raw.decode("utf-8", "replace")


def reject_options(parsed: Options, allowed: str) -> None:
    """One line for the first option a JSON document cannot honour: an invalid one, in getopt's
    words, or one of the command's own that selects other data than the schema describes."""
    errors = iter(parsed.errors)
    for opt, _val in parsed.opts:
        if opt == "?":
            raise CommandError(next(errors, "invalid option"))
        if opt not in allowed:
            raise CommandError(f"-{opt} is not supported with --json")


def no_arguments(argv: list[str]) -> None:
    """A document of everything takes no arguments: one line naming them."""
    if argv:
        raise CommandError(f"{' '.join(argv)}: not supported with --json")


def object_data(obj: Object, depth: int = 0) -> Any:
    """An Object as JSON data: integers and enums as numbers, pointers and functions as addresses,
    char arrays as strings (up to the first NUL), other arrays as lists, structs and unions as
    objects of their members (those of anonymous structs and unions among them); null where the
    memory cannot be read."""
    from crashpy.object import _member_names, resolve
    from crashpy.types.model import ArrayType, IntType, StructType, TypeKind

    r = resolve(obj.type_)
    try:
        if r.kind in (TypeKind.INT, TypeKind.ENUM):
            v = obj.value_()
            return bool(v) if isinstance(r, IntType) and r.is_bool else int(v)
        if r.kind is TypeKind.POINTER:
            return hex_address(int(obj.value_()))
        if r.kind is TypeKind.FUNCTION:
            return hex_address(obj.address_ or 0)
        if r.kind is TypeKind.FLOAT:
            return float(obj.value_())
        if isinstance(r, ArrayType):
            elt = resolve(r.element)
            if isinstance(elt, IntType) and elt.size == 1 and not elt.is_bool:
                return text(obj.data_().split(b"\0", 1)[0])
            snap = obj.read_() if obj.address_ is not None else obj
            return [object_data(snap.index_(i), depth + 1) for i in range(r.length or 0)]
        if isinstance(r, StructType) and r.is_complete and depth < 64:
            snap = obj.read_() if obj.address_ is not None and depth == 0 else obj
            return {name: object_data(snap.member_(name), depth + 1) for name in _member_names(r)}
    except CrashpyError:
        return None
    return None


def mkstring(s: str, width: int, how: str = "l") -> str:
    """crash's mkstring() justification: "l" (left), "r" (right), "cl" / "cr" (centred, the odd space
    on the right / on the left), "c" (centred, the odd space on the right)."""
    extra = width - len(s)
    if extra <= 0:
        return s
    if how.startswith("c"):
        left = extra // 2 + (1 if extra % 2 and how == "cr" else 0)
        return " " * left + s + " " * (extra - left)
    return s + " " * extra if how == "l" else " " * extra + s
