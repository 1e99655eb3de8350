"""eval: evaluate a number or a two-operand expression, shown in hexadecimal, decimal, octal, binary."""

from __future__ import annotations

from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import MASK64, crash_args, eval_expression
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

 The -b and -l options come before the expression or value.

EXAMPLES
   crash> eval 128m
   hexadecimal: 8000000  (128MB)
       decimal: 134217728
         octal: 1000000000
        binary: 0000000000000000000000000000000000001000000000000000000000000000

   crash> eval 128 * 1m
   hexadecimal: 8000000  (128MB)
       decimal: 134217728
         octal: 1000000000
        binary: 0000000000000000000000000000000000001000000000000000000000000000

   crash> eval (1 << 32)
   hexadecimal: 100000000  (4GB)
       decimal: 4294967296
         octal: 40000000000
        binary: 0000000000000000000000000000000100000000000000000000000000000000

   crash> eval -b 41dc065
   hexadecimal: 41dc065
       decimal: 69058661
         octal: 407340145
        binary: 0000000000000000000000000000000000000100000111011100000001100101
      bits set: 26 20 19 18 16 15 14 6 5 2 0
"""


def _evaluate(session: Session, expr: str) -> int:
    from crashpy.symbols.crash_view import crash_symtab

    notes: list[str] = []
    try:
        value = eval_expression(expr, crash_symtab(session.prog).value_of, notes)
    except ZeroDivisionError:
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
