"""Tokens of gdb's C expression language (c-exp.y: lex_one_token, parse_number)."""

from __future__ import annotations

from dataclasses import dataclass

from crashpy.bits import MASK64
from crashpy.expr.errors import GdbError

# Three- and two-character operators, longest first (c-exp.y: tokentab3, tokentab2).
_OPS3 = ("<<=", ">>=", "->*", "...")
_OPS2 = (
    "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "++", "--", "->", "&&", "||", "::",
    "<<", ">>", "==", "!=", "<=", ">=", ".*",
)  # fmt: skip
_OPS1 = "+-*/%|&^~!@<>=?:,.()[]{}"

KEYWORDS = frozenset(
    {
        "unsigned", "signed", "struct", "union", "enum", "sizeof", "_Alignof", "alignof", "const",
        "volatile", "restrict", "__restrict__", "int", "long", "short", "char", "void", "float",
        "double", "_Bool", "class", "typename", "true", "false",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Token:
    kind: str  # NUM FLOAT CHAR STRING NAME DOLLAR OP EOF
    text: str
    pos: int  # where the token starts in the expression text (gdb's prev_lexptr)
    value: int | float | bytes | None = None
    type_name: str = ""  # for NUM: the builtin type gdb gives the literal ("int", "unsigned long", ...)


def parse_number(text: str) -> tuple[int, str]:
    """(value, builtin type name) of an integer literal, as gdb's parse_number; GdbError if invalid."""
    p = text
    base = 10
    if p[0] == "0" and len(p) > 1:
        c = p[1]
        if c in "xX" and len(p) >= 3:
            p, base = p[2:], 16
        elif c in "bB" and len(p) >= 3:
            p, base = p[2:], 2
        elif c in "tTdD" and len(p) >= 3:
            p, base = p[2:], 10
        else:
            base = 8
    n = 0
    prevn = 0
    unsigned_p = False
    long_p = 0
    found_suffix = False
    for ch in p:
        c = ch.lower()
        i = 0
        if c not in "lui":
            n *= base
        if "0" <= c <= "9":
            if found_suffix:
                raise GdbError(f'Invalid number "{text}".')
            i = ord(c) - 48
            n += i
        elif base > 10 and "a" <= c <= "f":
            if found_suffix:
                raise GdbError(f'Invalid number "{text}".')
            i = ord(c) - 87
            n += i
        elif c == "l":
            long_p += 1
            found_suffix = True
        elif c == "u":
            unsigned_p = True
            found_suffix = True
        else:
            raise GdbError(f'Invalid number "{text}".')
        if i >= base:
            raise GdbError(f'Invalid number "{text}".')
        if c not in "lui":
            if n > MASK64:
                raise GdbError("Numeric constant too large.")
            if prevn >= n and n != 0:
                unsigned_p = True
        prevn = n
    un = n >> 2
    if long_p == 0 and (un >> 30) == 0:
        high_bit, signed_t, unsigned_t = 1 << 31, "int", "unsigned int"
    elif long_p <= 1 and (un >> 62) == 0:
        high_bit, signed_t, unsigned_t = 1 << 63, "long", "unsigned long"
    else:
        high_bit, signed_t, unsigned_t = 1 << 63, "long long", "unsigned long long"
    return n, (unsigned_t if unsigned_p or n & high_bit else signed_t)


_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, "e": 27, "\\": 92, "'": 39, '"': 34, "?": 63}


def _escape(text: str, i: int) -> tuple[int, int]:
    """The value of the escape sequence starting after the backslash at text[i]; (value, next index)."""
    if i >= len(text):
        raise GdbError("Unmatched single quote.")
    c = text[i]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 1
    if c in "01234567":
        j = i
        v = 0
        while j < len(text) and j < i + 3 and text[j] in "01234567":
            v = v * 8 + int(text[j])
            j += 1
        return v & 0xFF, j
    if c == "x":
        j = i + 1
        v = 0
        if j >= len(text) or text[j] not in "0123456789abcdefABCDEF":
            raise GdbError("\\x escape without a following hex digit")
        while j < len(text) and text[j] in "0123456789abcdefABCDEF":
            v = v * 16 + int(text[j], 16)
            j += 1
        return v & 0xFF, j
    if c == "^":
        if i + 1 < len(text):
            return ord(text[i + 1]) & 0x1F, i + 2
    return ord(c), i + 1


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an EOF token; GdbError for what gdb's lexer rejects."""
    out: list[Token] = []
    i = 0
    n = len(text)
    while True:
        while i < n and text[i] in " \t\n":
            i += 1
        if i >= n:
            out.append(Token("EOF", "", n))
            return out
        start = i
        c = text[i]
        three = text[i : i + 3]
        two = text[i : i + 2]
        if three in _OPS3:
            out.append(Token("OP", three, start))
            i += 3
            continue
        if two in _OPS2:
            out.append(Token("OP", two, start))
            i += 2
            continue
        if c == "." and not (i + 1 < n and text[i + 1].isdigit()):
            out.append(Token("OP", ".", start))
            i += 1
            continue
        if c.isdigit() or c == ".":
            i = _scan_number(text, i)
            raw = text[start:i]
            if any(ch in raw for ch in ".") or (
                not raw.lower().startswith("0x") and any(ch in "eE" for ch in raw)
            ):
                try:
                    value = float(raw.rstrip("fFlL"))
                except ValueError:
                    raise GdbError(f'Invalid number "{raw}".') from None
                out.append(Token("FLOAT", raw, start, value, "double"))
            else:
                v, tname = parse_number(raw)
                out.append(Token("NUM", raw, start, v, tname))
            continue
        if c == "'":
            j = i + 1
            if j < n and text[j] == "\\":
                v, j = _escape(text, j + 1)
            elif j < n and text[j] != "'":
                v, j = ord(text[j]), j + 1
            else:
                if j < n and text[j] == "'":
                    raise GdbError("Empty character constant.")
                raise GdbError("Unmatched single quote.")
            if j >= n or text[j] != "'":
                raise GdbError("Unmatched single quote.")
            out.append(Token("CHAR", text[start : j + 1], start, v if v < 128 else v - 256, "char"))
            i = j + 1
            continue
        if c == '"':
            j = i + 1
            buf = bytearray()
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    v, j = _escape(text, j + 1)
                    buf.append(v)
                else:
                    buf += text[j].encode("latin-1", "replace")
                    j += 1
            if j >= n:
                raise GdbError("Unterminated string in expression.")
            out.append(Token("STRING", text[start : j + 1], start, bytes(buf)))
            i = j + 1
            continue
        if c == "$":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            out.append(Token("DOLLAR", text[start:j], start))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(Token("NAME", text[start:j], start))
            i = j
            continue
        if c in _OPS1:
            out.append(Token("OP", c, start))
            i += 1
            continue
        raise GdbError(f"Invalid character '{c}' in expression.")


def _scan_number(text: str, i: int) -> int:
    n = len(text)
    hexa = False
    got_dot = got_e = got_p = False
    if text[i] == "0" and i + 1 < n and text[i + 1] in "xX":
        i += 2
        hexa = True
    elif text[i] == "0" and i + 1 < n and text[i + 1] in "tTdD":
        i += 2
    while i < n:
        ch = text[i]
        if not hexa and not got_e and not got_p and ch in "eE":
            got_dot = got_e = True
        elif not got_e and not got_p and ch in "pP" and hexa:
            got_dot = got_p = True
        elif not hexa and not got_dot and ch == ".":
            got_dot = True
        elif ((got_e and text[i - 1] in "eE") or (got_p and text[i - 1] in "pP")) and ch in "+-":
            pass
        elif not ch.isalnum():
            break
        i += 1
    return i
