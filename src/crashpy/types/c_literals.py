"""C literals as gdb writes them: characters ('a', '\\000'), strings with their escapes and repeats
(generic_printstr), enumerators and flag enums, floating-point numbers; and which types print as text.
"""

from __future__ import annotations

import struct as _struct
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.types.gdb_view import peel, strip, type_name
from crashpy.types.model import (
    EnumType,
    IntType,
    Type,
    TypeKind,
)

if TYPE_CHECKING:
    from crashpy.types.valprint import PrintOptions


def is_textual(t: Type, fmt: str) -> bool:
    """c_textual_element_type: char-like one-byte integers (and wchar_t & co by name)."""
    if fmt not in ("", "s"):
        return False
    s = strip(t)
    if s.kind is not TypeKind.INT:
        return False
    it: Type | None = t
    for _ in range(64):
        if it is None:
            break
        n = type_name(it)
        if n in ("wchar_t", "char16_t", "char32_t"):
            return True
        b = peel(it)[0]
        if b.kind is not TypeKind.TYPEDEF:
            break
        it = b.target
    assert isinstance(s, IntType)
    return s.size == 1 and not s.is_bool


def enum_text(e: EnumType, val: int) -> str:
    """generic_val_print_enum_1."""
    for k, v in e.enumerators.items():
        if v == val:
            return k
    if _is_flag_enum(e):
        parts: list[str] = []
        rest = val
        for k, v in e.enumerators.items():
            if v and rest & v:
                parts.append(k)
                rest &= ~v
        if rest:
            parts.append(f"unknown: 0x{rest & MASK64:x}")
        if not parts:
            return "0"
        return "(" + " | ".join(parts) + ")"
    return str(val)


def _is_flag_enum(e: EnumType) -> bool:
    """gdb 10's TYPE_FLAG_ENUM (dwarf2/read.c process_enumeration_scope): every value non-negative with
    at most one bit set, no two sharing a bit."""
    for v in e.enumerators.values():
        if v < 0:
            return False
        if bin(v).count("1") > 1:
            return False
    return True


_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def _emit(out: list[str], c: int, quoter: str, need_escape: bool) -> bool:
    """print_wchar for one byte in the C locale; returns the new need_escape."""
    if c in _ESCAPES:
        out.append(_ESCAPES[c])
        return False
    ch = chr(c)
    if 0x20 <= c < 0x7F and (not need_escape or not ch.isdigit()):
        if ch == quoter or ch == "\\":
            out.append("\\")
        out.append(ch)
        return False
    out.append(f"\\{c & 0o777:03o}" if c <= 0o777 else f"\\x{c:x}")
    return True


def char_literal(v: int, unsigned: bool) -> str:
    """c_printchar: 'a', '\\000', '\\377'."""
    out = ["'"]
    _emit(out, v & 0xFF, "'", False)
    out.append("'")
    return "".join(out)


def printstr(s: bytes, force_ellipses: bool, opts: PrintOptions, width: int = 1) -> str:
    """generic_printstr for a C string of bytes (c_style_terminator), quote char '"'."""
    if width != 1:
        s = bytes(int.from_bytes(s[i : i + width], "little") & 0xFF for i in range(0, len(s) - width + 1, width))
    length = len(s)
    if not force_ellipses and length > 0 and s[length - 1] == 0:
        length -= 1
    if length == 0:
        return '""'
    # count_next_character: runs of equal characters, until print_max characters are taken.
    runs: list[tuple[int, int]] = []
    i = 0
    pos = 0
    while i < opts.print_max and pos < length:
        c = s[pos]
        n = 1
        while pos + n < length and s[pos + n] == c:
            n += 1
        runs.append((c, n))
        pos += n
        i += n
    finished = pos >= length
    out: list[str] = []
    state = "START"
    need_escape = False
    for c, n in runs:
        if n > opts.repeat_count_threshold:
            if state == "SINGLE":
                out.append('"')
            if state != "START":
                out.append(", ")
            out.append("'")
            need_escape = _emit(out, c, '"', need_escape)
            out.append("'")
            out.append(f" <repeats {n} times>")
            state = "REPEAT"
        else:
            if state != "SINGLE":
                if state != "START":
                    out.append(", ")
                out.append('"')
            for _ in range(n):
                need_escape = _emit(out, c, '"', need_escape)
            state = "SINGLE"
    if state == "SINGLE":
        out.append('"')
    if force_ellipses or not finished:
        out.append("...")
    return "".join(out)


def float_value(b: bytes) -> float:
    if len(b) == 4:
        return float(_struct.unpack("<f", b)[0])
    if len(b) == 8:
        return float(_struct.unpack("<d", b)[0])
    return 0.0


def float_text(b: bytes) -> str:
    v = float_value(b)
    prec = 9 if len(b) == 4 else 17
    text = f"{v:.{prec}g}"
    return text


__all__ = ["char_literal", "enum_text", "float_text", "float_value", "is_textual", "printstr"]
