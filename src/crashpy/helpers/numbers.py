"""crash's number and argument conventions: its tokenizer, GNU getopt, and `eval`'s arithmetic.

crash reads numbers its own way (tools.c): a bare string is decimal if it can be, else hexadecimal
(`10` is ten, `a` is ten, `0x10` is sixteen), `k`/`m`/`g` suffixes multiply, `~` complements, a
symbol name stands for its address, and an expression is at most two operands and one operator,
optionally inside one pair of parentheses.  Everything here returns data; the messages crash would
print on the way (its `error(INFO, ...)` lines) are appended to a `notes` list for the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crashpy.bits import MASK64
from crashpy.errors import CommandError, CrashpyError

MAX_HEXADDR_STRLEN = 16  # x86_64
LONG_LONG_PRLEN = 16

SymbolLookup = Callable[[str], "int | None"]

_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_OPERATORS = "#><+-&|*/%^"


class DivisionByZero(CommandError):
    """An expression of crash's own evaluator (eval_expression) divided by zero.  crash 8.0.6 itself
    never comes back from that (`eval 1/0`, `list 1%0` spin at 100% CPU), so crashpy says so instead."""

    def __init__(self) -> None:
        super().__init__("division by zero")


def _no_symbols(name: str) -> int | None:
    return None


# ---- crash's tokenizer and option parser ----------------------------------------------------------------


def parse_line(line: str) -> list[str]:
    """Split a command line as crash does (tools.c parse_line): blanks separate words, a word that
    starts with `(` runs to its matching `)` (blanks included), and `"..."` quotes a word."""
    c = list(line.strip())
    n = len(c)
    if not n:
        return []

    def at(k: int) -> str:
        return c[k] if k < n else ""

    argv: list[str] = []
    i = 0
    start = 0
    if c[0] == '"':
        k = 0
        while True:
            i += 1
            while i < n and c[i] != '"':
                i += 1
            if i >= n:
                argv.append("".join(c[k:]))
                return argv
            argv.append("".join(c[k + 1 : i]))
            i += 1
            if at(i) == '"':
                k = i
                continue
            break
        start = -1  # the quoted word is complete; skip to the next blank
    while True:
        while i < n and c[i] not in " \t":
            i += 1
        if start >= 0:
            argv.append("".join(c[start:i]))
        if i >= n:
            return argv
        i += 1
        while at(i) in (" ", "\t"):
            i += 1
        string = False
        if at(i) == '"':
            c[i] = " "
            string = True
            i += 1
        if not string and at(i) == "(":
            start = i
            depth = 1
            while depth > 0:
                i += 1
                ch = at(i)
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                elif ch in ("", "\n"):
                    argv.append("".join(c[start:]))
                    return argv
            i += 1
            continue
        if i >= n:
            return argv
        start = i
        if string:
            while i < n and c[i] != '"':
                i += 1
            if i < n:
                c[i] = " "


def crash_args(args: Sequence[str]) -> list[str]:
    """`args` re-split with crash's rules when they hold parentheses.

    A bridge for argv split elsewhere by shell rules: `eval (1 + 2)` must reach the command as one
    word `(1 + 2)`, as crash's parse_line makes it."""
    if any("(" in a or ")" in a for a in args):
        return parse_line(" ".join(["-", *args]))[1:]  # crash groups `(...)` only after a blank
    return list(args)


def command_args(line: str, args: Sequence[str]) -> list[str]:
    """A command's arguments split by crash's rules (quotes, parentheses) from the raw command `line` when
    there is one; else the given args, re-split where they hold parentheses."""
    if line.strip():
        return parse_line(line)[1:]
    return crash_args(args)


@dataclass
class Options:
    """GNU getopt's result: options in order, the other arguments, and getopt's own complaints."""

    opts: list[tuple[str, str | None]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # e.g. "invalid option -- 'z'"

    def has(self, opt: str) -> bool:
        return any(o == opt for o, _ in self.opts)


def getopt(argv: Sequence[str], optstring: str) -> Options:
    """Parse `argv` (without the command name) like glibc getopt(3) with argument permutation."""
    res = Options()
    takes_arg = {}
    for k, ch in enumerate(optstring):
        if ch == ":":
            continue
        takes_arg[ch] = k + 1 < len(optstring) and optstring[k + 1] == ":"
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        if arg == "--":
            res.args.extend(argv[i + 1 :])
            break
        if len(arg) < 2 or arg[0] != "-":
            res.args.append(arg)
            i += 1
            continue
        j = 1
        while j < len(arg):
            ch = arg[j]
            if ch not in takes_arg:
                res.errors.append(f"invalid option -- '{ch}'")
                res.opts.append(("?", None))
                j += 1
                continue
            if takes_arg[ch]:
                if j + 1 < len(arg):
                    res.opts.append((ch, arg[j + 1 :]))
                elif i + 1 < n:
                    i += 1
                    res.opts.append((ch, argv[i]))
                else:
                    res.errors.append(f"option requires an argument -- '{ch}'")
                    res.opts.append(("?", None))
                break
            res.opts.append((ch, None))
            j += 1
        i += 1
    return res


# ---- number strings ------------------------------------------------------------------------------------


def strip_line_end(s: str) -> str:
    return s.rstrip("\n").rstrip()


def decimal(s: str) -> bool:
    """crash's decimal(s, 0): only digits and blanks (after trailing blanks go), at least one digit."""
    s = strip_line_end(s)
    digits = 0
    for c in s:
        if c in _DEC:
            digits += 1
        elif c != " ":
            return False
    return digits > 0


def hexadecimal(s: str) -> bool:
    """crash's hexadecimal(s, 0): hex digits and `x`/`X` anywhere, at least one digit."""
    s = strip_line_end(s)
    digits = 0
    for k, c in enumerate(s):
        if c in _HEX:
            digits += 1
        elif c in "xX":
            pass
        elif c == " ":
            if k + 1 != len(s):
                return False
        else:
            return False
    return digits > 0


def is_a_number(s: str) -> bool:
    return decimal(s) or hexadecimal(s)


def htol(s: str, notes: list[str] | None = None, *, limit: int = MAX_HEXADDR_STRLEN) -> int | None:
    """A hexadecimal string's value (a `0x` prefix, and `x`, `X`, `h` anywhere, are skipped)."""
    if s.startswith(("0x", "0X")):
        s = s[2:]
    if len(s) > limit:
        if notes is not None:
            notes.append(f'input string too large: "{s}" ({len(s)} vs {limit})')
        return None
    n = 0
    for c in s:
        if c in _HEX:
            n = (n * 16 + int(c, 16)) & MASK64
        elif c in "xXh":
            continue
        else:
            if notes is not None:
                notes.append(f'invalid input: "{s}"')
            return None
    return n


def htoll(s: str, notes: list[str] | None = None) -> int | None:
    return htol(s, notes, limit=LONG_LONG_PRLEN)


def dtol(s: str, notes: list[str] | None = None) -> int | None:
    """A decimal string's value; leading blanks are skipped, anything else but digits is refused."""
    if not s:
        return None
    orig = s
    body = s.lstrip(" ")
    for c in body:
        if c not in _DEC:
            if notes is not None:
                notes.append(f'{orig}: "{c}" is not a digit 0 - 9')
            return None
    if not body:
        if notes is not None:
            notes.append("invalid expression")
        return None
    v = int(body)
    return v if v <= MASK64 else MASK64  # strtoul saturates


def stol(s: str, notes: list[str] | None = None, *, hex_bias: bool = False) -> int | None:
    """crash's stol(): decimal when it can be (hexadecimal first with `hex_bias`), else hexadecimal."""
    if hex_bias and hexadecimal(s):
        return htol(strip_line_end(s), notes)
    if decimal(s):
        return dtol(strip_line_end(s), notes)
    if hexadecimal(s):
        return htol(strip_line_end(s), notes)
    if notes is not None:
        notes.append(f"not a valid number: {s}")
    return None


# ---- eval's arithmetic ---------------------------------------------------------------------------------

_FACTORS = {"k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30}


def calculate(
    s: str, lookup: SymbolLookup = _no_symbols, notes: list[str] | None = None, *, hex_bias: bool = False
) -> int | None:
    """One operand: `[~]symbol` or `[~]number[k|m|g]`."""
    complement = s.startswith("~")
    if complement:
        s = s[1:]
    value = lookup(s) if s else None
    if value is not None:
        return (~value) & MASK64 if complement else value
    if not s:
        return None
    factor = _FACTORS.get(s[-1], 1)
    if factor != 1:
        s = s[:-1]
    if not is_a_number(s):
        return None
    s = strip_line_end(s)
    v = stol(s, notes, hex_bias=hex_bias)
    if v is None:
        return None
    v = (v * factor) & MASK64
    return (~v) & MASK64 if complement else v


def can_eval(s: str) -> bool:
    """Whether crash would hand `s` to its expression evaluator."""
    if len(s) > 2 and s[0] == "(" and s[-1] == ")" and s.count("(") == 1 and s.count(")") == 1:
        return True
    for k, c in enumerate(s):
        if c in "><+-&|*/%^":
            return k > 0 and k + 1 < len(s)
    return False


def dtoi(s: str) -> int:
    """crash's dtoi(): leading blanks skipped, then decimal digits only (`x: "x" is not a digit 0 - 9`);
    the value is what C's sscanf("%d") makes of it (saturated to a long, then cut to an int)."""
    s = s.lstrip(" ")
    for ch in s:
        if not "0" <= ch <= "9":
            raise CommandError(f'{s}: "{ch}" is not a digit 0 - 9')
    if not s:
        raise CommandError(f'{s}: "" is not a digit 0 - 9')
    value = min(int(s), (1 << 63) - 1) & 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def make_cpumask(spec: str, ncpus: int) -> list[int]:
    """crash's make_cpumask(): "3", "1,8,9", "1-23", "1,8,9-14", "a" or "all" (empty pieces skipped, as
    strtok() does); a bad number says dtoi()'s words, a cpu out of range `invalid cpu specification`."""
    out: set[int] = set()
    for part in (p for p in spec.split(",") if p):
        if part in ("a", "all"):
            start, end = 0, ncpus - 1
        else:
            pieces = [p for p in part.split("-") if p]
            start = dtoi(pieces[0]) if pieces else -1
            end = dtoi(pieces[1]) if len(pieces) > 1 else start
        if not (0 <= start < ncpus and 0 <= end < ncpus):
            raise CommandError(f"invalid cpu specification: {spec}")
        out.update(range(start, end + 1))
    return sorted(out)


class CpuSpecRestart(CrashpyError):
    """crash's RESTART() after a cpuspec named a cpu the dump does not have: the message is out already."""


def cpu_spec(spec: str, ncpus: int, current: int, warn: Callable[[str], None]) -> list[int]:
    """crash's make_cpumask() for a `symbol:cpuspec` (p, struct): "1", "0-1", "0,2", "a"/"all"; "" is
    `current`. A cpu out of range is reported through `warn` (crash's error() line), then
    CpuSpecRestart is raised."""
    if spec == "":
        return [current]
    cpus: set[int] = set()
    for part in spec.split(","):
        if part in ("a", "all"):
            start, end = 0, ncpus - 1
        else:
            lo, _, hi = part.partition("-")
            try:
                start = int(lo)
                end = int(hi) if hi else start
            except ValueError:
                raise CrashpyError(f"invalid cpu specification: {spec}") from None
        if not (0 <= start < ncpus and 0 <= end < ncpus):
            warn(f"invalid cpu specification: {spec}")
            raise CpuSpecRestart()
        cpus.update(range(start, end + 1))
    return sorted(cpus)


def _power(base: int, exp: int) -> int:
    exp &= 0xFFFFFFFF  # crash's power() takes an int exponent
    if exp >= 1 << 31:
        return 1
    return pow(base, exp, 1 << 64)


def eval_expression(
    s: str, lookup: SymbolLookup = _no_symbols, notes: list[str] | None = None, *, hex_bias: bool = False
) -> int | None:
    """crash's eval_common(): `value`, `(value)`, `x op y` or `(x op y)`; None if malformed.

    The operators are + - & | * / % ^ << >> and # (power); a leading `-` means `0-`."""
    if "(" in s or ")" in s:
        if not s.startswith("(") or not s.endswith(")") or s.index(")") != len(s) - 1:
            return None
        work = s[1:-1]
        if "(" in work or ")" in work:
            return None
    else:
        work = s
    if work.startswith("-"):
        work = "0" + work
    pos = next((k for k, c in enumerate(work) if c in _OPERATORS), -1)
    if pos < 0:
        return calculate(work, lookup, notes, hex_bias=hex_bias)
    op = work[pos]
    if op in "<>":
        if work[pos + 1 : pos + 2] != op:
            return None
        op += op
        right = work[pos + 2 :]
    else:
        right = work[pos + 1 :]
    left = work[:pos].strip()
    right = right.strip()
    if not left or not right:
        return None
    a = lookup(left)
    if a is None:
        a = calculate(left, lookup, notes, hex_bias=hex_bias)
        if a is None:
            return None
    b = lookup(right)
    if b is None:
        b = calculate(right, lookup, notes, hex_bias=hex_bias)
        if b is None:
            return None
    if op in "/%" and b == 0:
        raise DivisionByZero
    result: int
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "&":
        result = a & b
    elif op == "|":
        result = a | b
    elif op == "*":
        result = a * b
    elif op == "/":
        result = a // b
    elif op == "%":
        result = a % b
    elif op == "<<":
        result = a << (b & 63)
    elif op == ">>":
        result = a >> (b & 63)
    elif op == "^":
        result = a ^ b
    else:  # "#"
        result = _power(a, b)
    return result & MASK64


def radix_option(current: int, wanted: int) -> int:
    """A command's -x (16) or -d (10) on top of what its options asked so far (0: nothing): the radix,
    or crash's refusal of both."""
    if current and current != wanted:
        raise CommandError("-d and -x are mutually exclusive")
    return wanted
