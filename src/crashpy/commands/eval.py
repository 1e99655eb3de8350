"""eval: evaluate a number or a two-operand expression, shown in hexadecimal, decimal, octal, binary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import DivisionByZero, crash_args, eval_expression

if TYPE_CHECKING:
    from crashpy.session import Session

_BITS_HDR = "   bits set: "


def format_number(value: int, bits: bool = False) -> str:
    """crash's print_number() for a 64-bit value: the four radix lines, then the set bits with -b."""
    value &= MASK64
    out = [f"hexadecimal: {value:x}  "]
    if value >= 1024:
        for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
            if value % size == 0:
                out.append(f"({value // size}{unit})")
                break
    out.append("\n")
    out.append(f"    decimal: {value}  ")
    out.append(f"({value - (1 << 64)})\n" if value >> 63 else "\n")
    out.append(f"      octal: {value:o}\n")
    out.append(f"     binary: {value:064b}\n")
    if bits:
        out.append(_BITS_HDR)
        column = len(_BITS_HDR)
        for bit in range(63, -1, -1):
            if value >> bit & 1:
                piece = f"{bit} "
                out.append(piece)
                column += len(piece)
                if column >= 77:
                    out.append("\n" + " " * len(_BITS_HDR))
                    column = len(_BITS_HDR)
        out.append("\n")
    return "".join(out)


HELP = """\
NAME
  eval - evaluate

SYNOPSIS
  eval [-b][-l] (expression) | value

DESCRIPTION
  Computes an expression or a single value and shows the result in
  hexadecimal, decimal, octal and binary.  A result that is a whole number of
  gigabytes, megabytes or kilobytes also shows that size next to the
  hexadecimal line, and a result with its top bit set shows its negative
  (signed) decimal value as well.  An expression is "x operator y", where x
  and y are numbers or symbols, and the operator is one of:

                     +  -  &  |  ^  *  %  /  <<  >>

  The parentheses around an expression may be left out, except around the
  "|", "<<" and ">>" operators.  A single value may be a number or a symbol.
  Numbers are decimal or hexadecimal: decimal when they can be, hexadecimal
  otherwise, and always hexadecimal with a leading "0x".  A number may end in
  "k" or "K", "m" or "M", "g" or "G" to multiply it by 1024, 1 megabyte or
  1 gigabyte, and may be preceded by "~" for its one's complement.

    -b  also list the numbers of the bits that are set in the result.
    -l  treat the operands and the result as 64-bit values; this is always so
        on 64-bit machines, where the option is accepted and ignored.

 Put -b and -l ahead of the expression or value.

EXAMPLES
   A size with a suffix; the hexadecimal line names the size:

   crash> eval 64k
   hexadecimal: 10000  (64KB)
       decimal: 65536
         octal: 200000
        binary: 0000000000000000000000000000000000000000000000010000000000000000

   An operator between a suffixed number and a plain one:

   crash> eval 3g - 1
   hexadecimal: bfffffff
       decimal: 3221225471
         octal: 27777777777
        binary: 0000000000000000000000000000000010111111111111111111111111111111

   With the top bit set, the signed value follows the decimal one:

   crash> eval ~0
   hexadecimal: ffffffffffffffff
       decimal: 18446744073709551615  (-1)
         octal: 1777777777777777777777
        binary: 1111111111111111111111111111111111111111111111111111111111111111

   The positions of the set bits:

   crash> eval -b 0x8421
   hexadecimal: 8421
       decimal: 33825
         octal: 102041
        binary: 0000000000000000000000000000000000000000000000001000010000100001
      bits set: 15 10 5 0
"""


def _evaluate(session: Session, expr: str) -> int:
    from crashpy.symbols.crash_view import crash_symtab

    notes: list[str] = []
    try:
        value = eval_expression(expr, crash_symtab(session.prog).value_of, notes)
    except DivisionByZero:
        value = None
        notes.append("division by zero")
    for note in notes:
        session.println(f"eval: {note}")
    if value is None:
        raise CommandError(f"invalid expression: {expr}")
    return value


@command("eval", summary="evaluate", help=HELP, minimal=True)
def cmd_eval(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    args = crash_args(args)

    def arg(k: int) -> str | None:
        return args[k] if k < len(args) else None

    i = 0
    bits = False
    first = arg(0)
    if first in ("-lb", "-bl"):
        bits = True
        i = 1
    elif first == "-l":
        i = 1
        if arg(1) == "-b" and arg(2) is not None:
            i = 2
            bits = True
    elif first == "-b":
        if arg(1) == "-l":
            if arg(2) is None:
                print_usage(session, "eval")
                return
            bits = True
            i = 2
        elif arg(1) is not None:
            bits = True
            i = 1
    if arg(i) is None:
        print_usage(session, "eval")
        return
    words: list[str] = []
    for word in args[i:]:
        if word.startswith("("):
            session.write(format_number(_evaluate(session, word), bits))
            return
        words.append(word)
    expr = "(" + " ".join(words).rstrip() + ")"
    session.write(format_number(_evaluate(session, expr), bits))
