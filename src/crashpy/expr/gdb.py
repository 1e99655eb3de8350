"""gdb as crash embeds it: the value history, crash's gdb_readmem_callback(), `print` and `output` as
text, and crash's edits of gdb's text (process_gdb_output(), the pieces its fgets() loops get).

A crash session owns one `Gdb` (Session.gdb); `p`, `struct`, `ptype` and the gdb pass-through
commands print through it. Reads that fail while gdb evaluates or prints leave crash's error lines
(`p: invalid kernel virtual address: ...`) in `Gdb.memory`; the text functions put them into gdb's
text bracketed by ERR, where they happened, and `render_errors` takes them out again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from crashpy.arch.x86_64 import PAGE_SIZE
from crashpy.errors import AddressSpace, CrashpyError, FaultError, FaultKind
from crashpy.expr.errors import GdbError
from crashpy.expr.evaluator import Evaluator, Scope, UnknownSymbolType, ValueHistory
from crashpy.expr.parser import TypeExpr, parse
from crashpy.types.valprint import PartialOutput, PrintOptions, ValuePrinter

if TYPE_CHECKING:
    from crashpy.object import Object
    from crashpy.program import Program

# crash's readmem() over kernel virtual memory: (address, size, what) -> the bytes; FaultError when not.
KernelRead = Callable[[int, int, str], bytes]


class GdbFailed(CrashpyError):
    """gdb rejected a request (crash then says `gdb request failed: ...`)."""


class PartialPrint(GdbError):
    """print failed after gdb had written `$N = ` (the value is in the history by then)."""

    def __init__(self, message: str, partial: str) -> None:
        super().__init__(message)
        self.partial = partial


def _partial(fault: FaultError) -> bool:
    """Whether crash's readmem() returns what it read before `fault` when asked to (RETURN_PARTIAL):
    for a page makedumpfile excluded or could not write, not for a read error."""
    return fault.kind in (FaultKind.EXCLUDED, FaultKind.INCOMPLETE)


class GdbMemory:
    """The Program as gdb sees it inside crash: reads go through crash's gdb_readmem_callback(), which
    refuses non-kernel addresses silently, reads a 1-byte request as 4 bytes, and prints crash's readmem
    error line (`p: invalid kernel virtual address: ...  type: "gdb_readmem_callback"`) for a kernel
    address it cannot read. Those lines are collected in `log` in the order they happen.

    `read_kernel` is crash's readmem() of kernel virtual memory; `command` names the running command
    (the start of crash's error lines)."""

    def __init__(self, prog: Program, read_kernel: KernelRead, command: Callable[[], str]) -> None:
        self.prog = prog
        self._read_kernel = read_kernel
        self._command = command
        self.log: list[str] = []
        # crash's PARTIAL_READ_OK, set while struct/union print a downsized type (helpers/downsized.py):
        # a read that reaches a page makedumpfile left out, past its first page, stops there without an
        # error and the rest of gdb's buffer stays zero.
        self.partial_ok = False
        # crash's MEMTYPE_UVADDR (struct -u): every read goes to the current task's user space instead.
        self.read_user: KernelRead | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.prog, name)

    def read(self, addr: int, size: int, space: AddressSpace = AddressSpace.KVADDR, what: str = "") -> bytes:
        prog = self.prog
        if self.read_user is None and not prog.is_kvaddr(addr):
            raise FaultError(addr, FaultKind.INVALID, AddressSpace.KVADDR, "gdb_readmem_callback")
        want = 4 if size == 1 else size
        what = "gdb_readmem callback" if size == 4 else "gdb_readmem_callback"
        try:
            data = self._read_pages(addr, want, what, self.read_user or self._read_kernel)
        except FaultError as e:
            self.log.append(f"{self._command()}: {e.message()}\n")
            raise
        return data[:size]

    def _read_pages(self, addr: int, size: int, what: str, read: KernelRead) -> bytes:
        """crash's readmem(): the pages makedumpfile left out of an ELF dump read as zeros (crash reads
        them so), and with partial_ok a left-out page after the first page ends the read."""
        try:
            return read(addr, size, what)
        except FaultError as e:
            if not (self.partial_ok and e.address > addr and _partial(e)):
                raise
        out = bytearray()
        cur, end = addr, addr + size
        while cur < end:
            n = min(end, (cur | (PAGE_SIZE - 1)) + 1) - cur
            try:
                out += read(cur, n, what)
            except FaultError as e:
                if cur > addr and _partial(e):
                    return bytes(out) + bytes(end - cur)
                raise
            cur += n
        return bytes(out)

    def take(self) -> list[str]:
        out, self.log = self.log, []
        return out


ERR = "\x00"  # brackets a crash error line inside gdb's text (see render_errors)


def render_errors(text: str, inline: bool) -> tuple[str, str]:
    """Split gdb text with ERR-bracketed error lines into (errors printed first, text). inline: the
    lines stay where gdb was when they were printed (gdb writing straight to crash's output)."""
    if ERR not in text:
        return "", text
    parts = text.split(ERR)
    plain = "".join(parts[0::2])
    errors = "".join(parts[1::2])
    if inline:
        return "", "".join(parts)
    return errors, plain


def marked(lines: list[str]) -> str:
    """crash's error lines, ERR-bracketed for gdb's text."""
    return "".join(ERR + line + ERR for line in lines)


def output_format(radix: int) -> str:
    """gdb's output_format for crash's radix: 'x' in hexadecimal mode (set radix 16, -x)."""
    return "x" if radix == 16 else ""


class Gdb:
    """What gdb keeps between commands in a crash session (its value history, the memory it reads
    through), and gdb's print/output over them. `radix` arguments are crash's output radix (10 or 16)."""

    def __init__(self, memory: GdbMemory) -> None:
        self.history = ValueHistory()
        self.memory = memory

    def _printer(self) -> ValuePrinter:
        mem = self.memory

        def take() -> list[str]:
            return [ERR + line + ERR for line in mem.take()]

        return ValuePrinter(mem.prog, mem.read, take)

    def evaluate(self, expr: str) -> Object:
        """gdb's parse_expression + evaluate_expression; GdbError on failure. Reads that fail leave crash's
        error lines in memory.log."""
        sc = Scope(cast("Program", self.memory))
        node = parse(expr, sc)
        if isinstance(node, TypeExpr):
            raise GdbError("Attempt to use a type name as an expression")
        return Evaluator(sc, self.history).evaluate(node)

    def format_value(self, obj: Object, fmt: str, radix: int) -> str:
        """What gdb's print_formatted writes for `obj` (no `$N = `, no newline); crash error lines from
        reads made while printing are ERR-bracketed in the text."""
        try:
            data = obj.data_()
        except PartialOutput:
            raise
        except CrashpyError as e:
            raise GdbError(str(e)) from None
        opts = PrintOptions(format=fmt, output_format=output_format(radix))
        return self._printer().value_print(obj.type_, data, obj.address_, opts)

    def print(self, expr: str, fmt: str, radix: int) -> str:
        """gdb's `print[/fmt] expr`: `$N = value\\n`, the value recorded in the history, crash's error lines
        ERR-bracketed where they happened. PartialPrint when it fails (with what was written by then)."""
        mem = self.memory
        mem.take()
        hist = self.history
        try:
            obj = self.evaluate(expr) if expr.strip() else hist.get(0)
            obj.data_()  # record_latest_value() fetches the value: a bad read fails before `$N = `
        except UnknownSymbolType:
            raise  # nothing was read: the command's own line says what to do
        except CrashpyError as e:
            raise PartialPrint(str(e), marked(mem.take())) from None
        lead = marked(mem.take())
        num = hist.record(obj)
        try:
            text = self.format_value(obj, fmt, radix)
        except PartialOutput as e:
            raise PartialPrint(str(e), f"{lead}${num} = {e.partial}{marked(mem.take())}") from None
        except CrashpyError as e:
            raise PartialPrint(str(e), f"{lead}${num} = {marked(mem.take())}") from None
        return f"{lead}${num} = {text}\n"

    def output(self, expr: str, fmt: str, radix: int) -> str:
        """gdb's `output expr`: the value alone, no history, no newline."""
        return self.format_value(self.evaluate(expr), fmt, radix)


def decode_format(spec: str, command: str) -> str:
    """gdb's decode_format + validate_format for print/output: every lowercase letter is a format
    (an unknown one fails only when a scalar is printed with it), b/h/w/g are sizes, r is raw."""
    i = 0
    while i < len(spec) and spec[i].isdigit():
        i += 1
    count = int(spec[:i]) if i else 1
    fmt = ""
    size = ""
    for ch in spec[i:]:
        if ch in "bhwg":
            size = ch
        elif ch == "r":
            continue
        elif "a" <= ch <= "z":
            fmt = ch
        else:
            break
    if size:
        raise GdbError(f'Size letters are meaningless in "{command}" command.')
    if count != 1:
        raise GdbError(f'Item count other than 1 is meaningless in "{command}" command.')
    if fmt == "i":
        raise GdbError(f'Format letter "i" is meaningless in "{command}" command.')
    return fmt


# ---------------------------------------------------------------------------------------------------------
# crash's post-processing of gdb's text


BUFSIZE = 1500  # crash's line buffer: fgets() hands it long lines in pieces of BUFSIZE - 1


def fgets_lines(text: str, size: int = BUFSIZE) -> list[str]:
    """The pieces crash's `while (fgets(buf, BUFSIZE, fp))` loops get: lines, long ones cut into chunks
    of size - 1 characters."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line) > size - 1:
            out.append(line[: size - 1])
            line = line[size - 1 :]
        if line:
            out.append(line)
    return out


def process_gdb_output(text: str, leader: str | None) -> str:
    """crash's process_gdb_output(): `leader = ` before gdb's text, and a first line that holds a `{`
    not followed by a newline broken before it."""
    if leader is None:
        return text
    out = [f"{leader} = "]
    lines = fgets_lines(text)
    for k, line in enumerate(lines):
        p1 = line.find("{")
        if k == 0 and p1 >= 0 and not line[p1:].startswith("{\n"):
            out.append(line[:p1])
            out.append("\n {")
            out.append(line[p1 + 1 :])
        else:
            out.append(line)
    return "".join(out)


__all__ = [
    "BUFSIZE",
    "ERR",
    "Gdb",
    "GdbFailed",
    "GdbMemory",
    "KernelRead",
    "PartialPrint",
    "decode_format",
    "fgets_lines",
    "marked",
    "output_format",
    "process_gdb_output",
    "render_errors",
]
