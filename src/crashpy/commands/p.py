"""p: crash's print command, and the gdb commands crash passes through (print, p/x, output, gdb ...).

crash's `p` hands its expression to gdb and post-processes the text (symbols.c: cmd_p,
process_gdb_output, display_per_cpu_info); crashpy evaluates and prints the expression itself in
gdb's format, then applies the same post-processing. A failed expression prints crash's one line,
`p: gdb request failed: p foo` (crash keeps gdb's own message out of its output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from crashpy.commands.registry import command
from crashpy.errors import AddressSpace, CrashpyError, FaultError, FaultKind
from crashpy.expr import Evaluator, GdbError, Scope, ValueHistory
from crashpy.expr.parser import TypeExpr, parse
from crashpy.helpers.crash_reads import PAGE_SIZE, read_as_crash
from crashpy.helpers.numbers import crash_args, getopt, parse_line
from crashpy.object import Object, is_percpu_symbol
from crashpy.types.format import PartialOutput, PrintOptions, ValuePrinter

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

# ---------------------------------------------------------------------------------------------------------
# The gdb side: a value history and gdb's print/whatis/ptype as text


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
    address it cannot read. Those lines are collected in `log` in the order they happen."""

    def __init__(self, prog: Program, session: Session) -> None:
        self._prog = prog
        self._session = session
        self.log: list[str] = []
        # crash's PARTIAL_READ_OK, set while struct/union print a downsized type (helpers/downsized.py):
        # a read that reaches a page makedumpfile left out, past its first page, stops there without an
        # error and the rest of gdb's buffer stays zero.
        self.partial_ok = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._prog, name)

    def read(self, addr: int, size: int, space: AddressSpace = AddressSpace.KVADDR, what: str = "") -> bytes:
        prog = self._prog
        try:
            kv = prog.is_kvaddr(addr)
        except Exception:  # noqa: BLE001
            kv = addr >= 0xFFFF800000000000
        if not kv:
            raise FaultError(addr, FaultKind.INVALID, AddressSpace.KVADDR, "gdb_readmem_callback")
        want = 4 if size == 1 else size
        what = "gdb_readmem callback" if size == 4 else "gdb_readmem_callback"
        try:
            data = self._read_pages(addr, want, what)
        except FaultError as e:
            self.log.append(f"{self._session.current_cmd}: {e.message()}\n")
            raise
        return data[:size]

    def _read_pages(self, addr: int, size: int, what: str) -> bytes:
        """crash's readmem(): the pages makedumpfile left out of an ELF dump read as zeros (crash reads
        them so), and with partial_ok a left-out page after the first page ends the read."""
        prog = self._prog
        try:
            return read_as_crash(prog, addr, size, AddressSpace.KVADDR, what)
        except FaultError as e:
            if not (self.partial_ok and e.address > addr and _partial(e)):
                raise
        out = bytearray()
        cur, end = addr, addr + size
        while cur < end:
            n = min(end, (cur | (PAGE_SIZE - 1)) + 1) - cur
            try:
                out += read_as_crash(prog, cur, n, AddressSpace.KVADDR, what)
            except FaultError as e:
                if cur > addr and _partial(e):
                    return bytes(out) + bytes(end - cur)
                raise
            cur += n
        return bytes(out)

    def take(self) -> list[str]:
        out, self.log = self.log, []
        return out


@dataclass
class GdbState:
    """What gdb keeps between commands in a crash session."""

    history: ValueHistory = field(default_factory=ValueHistory)
    memory: GdbMemory | None = None


def gdb_state(session: Session) -> GdbState:
    st = session.state.get("gdb")
    if not isinstance(st, GdbState):
        st = GdbState()
        session.state["gdb"] = st
    if st.memory is None or st.memory._prog is not session.prog:
        st.memory = GdbMemory(session.prog, session)
    return st


def gdb_memory(session: Session) -> GdbMemory:
    mem = gdb_state(session).memory
    assert mem is not None
    return mem


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


def args_of(session: Session, args: list[str]) -> list[str]:
    """The command's arguments split by crash's rules (quotes, parentheses) when the session keeps the
    raw command line; else the given args, re-split where they hold parentheses."""
    line = getattr(session, "current_line", None)
    if isinstance(line, str) and line.strip():
        words = parse_line(line)
        return words[1:]
    return crash_args(args)


def output_format(session: Session, radix: int = 0) -> str:
    """gdb's output_format for crash's radix: 'x' in hexadecimal mode (set radix 16, -x)."""
    r = radix or session.radix
    return "x" if r == 16 else ""


def _printer(session: Session) -> ValuePrinter:
    mem = gdb_memory(session)

    def take() -> list[str]:
        return [ERR + line + ERR for line in mem.take()]

    return ValuePrinter(session.prog, mem.read, take)


def _scope(session: Session) -> Scope:
    mem = gdb_memory(session)
    sc = Scope(cast("Program", mem))
    return sc


def evaluate_text(session: Session, expr: str) -> Object:
    """gdb's parse_expression + evaluate_expression over the session's program; GdbError on failure.
    Reads that fail leave crash's error lines in gdb_memory(session).log."""
    sc = _scope(session)
    node = parse(expr, sc)
    if isinstance(node, TypeExpr):
        raise GdbError("Attempt to use a type name as an expression")
    return Evaluator(sc, gdb_state(session).history).evaluate(node)


def format_value(session: Session, obj: Object, fmt: str = "", radix: int = 0) -> str:
    """What gdb's print_formatted writes for `obj` (no `$N = `, no newline); crash error lines from
    reads made while printing are ERR-bracketed in the text."""
    try:
        data = obj.data_()
    except PartialOutput:
        raise
    except CrashpyError as e:
        raise GdbError(str(e)) from None
    opts = PrintOptions(format=fmt, output_format=output_format(session, radix))
    return _printer(session).value_print(obj.type_, data, obj.address_, opts)


def _marked(lines: list[str]) -> str:
    return "".join(ERR + line + ERR for line in lines)


def gdb_print(session: Session, expr: str, fmt: str = "", radix: int = 0) -> str:
    """gdb's `print[/fmt] expr`: `$N = value\n`, the value recorded in the history, crash's error lines
    ERR-bracketed where they happened. PartialPrint when it fails (with what was written by then)."""
    mem = gdb_memory(session)
    mem.take()
    hist = gdb_state(session).history
    try:
        obj = evaluate_text(session, expr) if expr.strip() else hist.get(0)
        obj.data_()  # record_latest_value() fetches the value: a bad read fails before `$N = `
    except CrashpyError as e:
        raise PartialPrint(str(e), _marked(mem.take())) from None
    lead = _marked(mem.take())
    num = hist.record(obj)
    try:
        text = format_value(session, obj, fmt, radix)
    except PartialOutput as e:
        raise PartialPrint(str(e), f"{lead}${num} = {e.partial}{_marked(mem.take())}") from None
    except CrashpyError as e:
        raise PartialPrint(str(e), f"{lead}${num} = {_marked(mem.take())}") from None
    return f"{lead}${num} = {text}\n"


def gdb_output(session: Session, expr: str, fmt: str = "", radix: int = 0) -> str:
    """gdb's `output expr`: the value alone, no history, no newline."""
    return format_value(session, evaluate_text(session, expr), fmt, radix)


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
# crash's post-processing


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


def whatis_variable(session: Session, name: str) -> str:
    """crash's whatis_variable(): the declaration `type name;` made from gdb's `whatis name`."""
    from crashpy.commands.ptype import gdb_type_text

    try:
        text = gdb_type_text(session, name, -1)
    except CrashpyError:
        raise CrashpyError(f"gdb request failed: whatis {name}") from None
    buf = text.splitlines()[0] if text else "type = "
    buf = buf.strip()
    body = buf[len("type = ") :] if buf.startswith("type = ") else buf
    if "[" in buf:
        k = body.index("[")
        return body[:k] + name + body[k:] + ";\n"
    if "(" in buf:
        if buf.index("(") == buf.rindex("("):
            k = body.index("(")
        else:
            k = body.index(")")
        return body[:k] + name + body[k:] + ";\n"
    sep = "" if body.endswith("*") else " "
    return f"{body}{sep}{name};\n"


def cpu_mask(session: Session, spec: str) -> list[int]:
    """crash's make_cpumask(): "1", "0-1", "0,2", "a"/"all"; "" is the current context's CPU."""
    ncpus = _cpu_count(session)
    if spec == "":
        return [_current_cpu(session)]
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
            session.println(f"{session.current_cmd}: invalid cpu specification: {spec}")
            raise _Restart()
        cpus.update(range(start, end + 1))
    return sorted(cpus)


class _Restart(CrashpyError):
    """crash's RESTART(): the message is out already; stop the command."""


def _cpu_count(session: Session) -> int:
    prog = session.prog

    def count() -> int:
        from crashpy.helpers.sysinfo import cpu_count

        try:
            return cpu_count(prog)
        except Exception:  # noqa: BLE001
            return len(prog.percpu_offsets)

    return prog.cache("crash_cpus", count)  # type: ignore[no-any-return]


def _current_cpu(session: Session) -> int:
    cpu = session.state.get("current_cpu")
    return cpu if isinstance(cpu, int) else 0


def display_per_cpu_info(session: Session, name: str, address: int, radix: int, cpuspec: str | None) -> bool:
    """crash's display_per_cpu_info() for a per-CPU symbol: its type and addresses, or with a cpuspec the
    value of each chosen CPU's instance."""
    prog = session.prog
    sym = prog.symbols.lookup(name)
    if sym is None or not is_percpu_symbol(prog, address) or sym.type not in ("d", "D", "V"):
        return False
    cpus = cpu_mask(session, cpuspec) if cpuspec is not None else None
    typename = _expr_type_name(session, name)
    if cpus is None:
        session.write("PER-CPU DATA TYPE:\n  ")
        if typename is None:
            session.write(f"[undetermined type] {name};\n")
        else:
            session.write(whatis_variable(session, name))
        session.write("PER-CPU ADDRESSES:\n")
    for c in range(_cpu_count(session)):
        if cpus is not None and c not in cpus:
            continue
        addr = prog.percpu_address(address, c)
        if cpus is None:
            session.write(f"  [{c}]: {addr:x}\n")
        elif typename is not None:
            _run_gdb_print(session, f"p *({typename}*) 0x{addr:x}", radix, f"per_cpu({name}, {c})")
        else:
            _run_gdb_print(session, f"p (void*) 0x{addr:x}", radix, f"&per_cpu({name}, {c})")
    return True


def _expr_type_name(session: Session, expr: str) -> str | None:
    """crash's expr_type_name(): gdb's `whatis expr` without `type = `; None when unknown."""
    from crashpy.commands.ptype import gdb_type_text

    try:
        text = gdb_type_text(session, expr, -1)
    except CrashpyError:
        return None
    line = text.splitlines()[0] if text else ""
    if not line.startswith("type = "):
        return None
    p = line[len("type = ") :].strip()
    if p.startswith("<") and p.endswith(">"):
        return None
    return p


def _run_gdb_print(session: Session, request: str, radix: int, leader: str | None) -> None:
    """process_gdb_output() for a `p ...` request: the text, or crash's FATAL error. With a leader gdb
    writes to a temporary file, so crash's read errors come out first and a failure shows no value."""
    expr = request[1:].strip() if request.startswith("p") else request
    try:
        text = gdb_print(session, expr, "", radix)
    except PartialPrint as e:
        errors, plain = render_errors(e.partial, inline=leader is None)
        session.write(errors if leader is not None else plain)
        raise CrashpyError(f"gdb request failed: {request}") from None
    except CrashpyError:
        raise CrashpyError(f"gdb request failed: {request}") from None
    errors, plain = render_errors(text, inline=leader is None)
    session.write(errors)
    session.write(process_gdb_output(plain, leader))


HELP = """\
NAME
  p - print the value of an expression

SYNOPSIS
  p [-x|-d][-u] [expression | symbol[:cpuspec]]

DESCRIPTION
  Evaluates a C expression over the kernel's symbols and types and prints the
  result the way gdb's "print" does.

    expression  the C expression to evaluate.
        symbol  the name of a kernel symbol.
      :cpuspec  which CPUs' copies of a per-cpu symbol to print:
                  :             the CPU the current task last ran on.
                  :a[ll]        every CPU.
                  :#[-#][,...]  CPU numbers and ranges separated by commas,
                                such as "0", "0-1" or "0,2-3,6".
            -x  show numbers in hexadecimal, whatever the output radix is.
            -d  show numbers in decimal, whatever the output radix is.
            -u  addresses in the expression are user addresses of the
                current task.

  Numbers are printed in the output radix, decimal unless it has been
  changed; crash's "hex" and "dec" aliases change it for the session, and its
  "px" and "pd" aliases print a single value in hexadecimal or decimal and
  leave the radix as it was.

EXAMPLES
  The tick counter, in decimal and then in hexadecimal:

    crash> p jiffies
    jiffies = $1 = 4294893465
    crash> p -x jiffies
    jiffies = $2 = 0xfffedf99

  An address computed from a structure member:

    crash> p &init_task.tasks
    $3 = (struct list_head *) 0xffffffff82a1b2d0 <init_task+2192>

  A per-cpu symbol on its own gives its type and each CPU's address:

    crash> p irq_stat
    PER-CPU DATA TYPE:
      irq_cpustat_t irq_stat;
    PER-CPU ADDRESSES:
      [0]: ffff88801f431140
      [1]: ffff88801f531140
"""


@command("p", summary="print the value of an expression", help=HELP)
def cmd_p(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    argv = args_of(session, args)
    parsed = getopt(argv, "dhxu")
    radix = 0
    for opt, _ in parsed.opts:
        if opt == "d":
            if radix == 16:
                raise CrashpyError("-d and -x are mutually exclusive")
            radix = 10
        elif opt in ("h", "x"):
            if radix == 10:
                raise CrashpyError("-d and -x are mutually exclusive")
            radix = 16
    for err in parsed.errors:
        session.println(f"p: {err}")
    if parsed.errors or not parsed.args:
        print_usage(session, "p")
        return
    first = parsed.args[0]
    cpuspec: str | None = None
    k = first.rfind(":")
    if k >= 0:
        cpuspec = first[k + 1 :]
        first = first[:k]
    if not first:  # crash looks the empty name up in its symbol hash, which refuses it
        raise CrashpyError("The length of the symbol name is zero!")
    prog = session.prog
    sym = prog.symbols.lookup(first)
    if sym is not None and len(parsed.args) == 1:
        if display_per_cpu_info(session, sym.name, sym.address, radix, cpuspec):
            return
    if cpuspec is not None:
        if sym is not None:
            session.println(f"WARNING: {sym.name} is not percpu; cpuspec ignored.")
        else:
            first = first + ":" + cpuspec  # maybe a C expression (e.g. `?:`)
    words = [first if i == 0 else a for i, a in enumerate(parsed.args)]
    request = " ".join(["p", *[w for w in words if not w.startswith("-")]]).rstrip()
    leader = sym.name if sym is not None else None  # crash keeps the symbol as leader even with more words
    _run_gdb_print(session, request, radix, leader)


# ---------------------------------------------------------------------------------------------------------
# gdb's own commands, as crash passes them through

GDB_HELP = """\
NAME
  gdb - gdb command

SYNOPSIS
  gdb command ...

DESCRIPTION
  This command passes its arguments to gdb's command line, as crash does for the
  gdb commands it does not implement itself.  crashpy answers print (p/FMT),
  output, whatis and ptype itself, in gdb's format.
"""

_PRINT_NAMES = ("print", "inspect", "call")


def run_gdb_command(session: Session, line: str) -> None:
    """One gdb command line (`p/x jiffies`, `ptype struct list_head`, `output 1+1`); on failure crash's
    `gdb: gdb request failed: <line>` is raised."""
    line = line.strip()
    head = line.split(None, 1)
    if not head:
        return
    word = head[0]
    rest = line[len(word) :].strip()
    name, slash, spec = word.partition("/")
    if not slash and rest.startswith("/"):
        spec_rest = rest[1:].split(None, 1)
        spec = spec_rest[0] if spec_rest else ""
        rest = spec_rest[1] if len(spec_rest) > 1 else ""
        slash = "/"
    try:
        if name in ("p", *_PRINT_NAMES):
            fmt = decode_format(spec, "print") if slash else ""
            try:
                session.write(render_errors(gdb_print(session, rest, fmt), inline=True)[1])
            except PartialPrint as e:
                session.write(render_errors(e.partial, inline=True)[1])
                raise
        elif name == "output":
            fmt = decode_format(spec, "output") if slash else ""
            mem = gdb_memory(session)
            mem.take()
            try:
                text = gdb_output(session, rest, fmt)
            except PartialOutput as e:
                session.write(render_errors(e.partial + _marked(mem.take()), inline=True)[1])
                raise
            except CrashpyError:
                session.write(_marked(mem.take()).replace(ERR, ""))
                raise
            session.write(render_errors(text, inline=True)[1])
        elif name in ("ptype", "whatis"):
            from crashpy.commands.ptype import gdb_type_command

            session.write(gdb_type_command(session, name, spec if slash else None, rest))
        else:
            raise GdbError(f'Undefined command: "{name}".  Try "help".')
    except CrashpyError:
        raise CrashpyError(f"gdb request failed: {line}") from None


def _raw_line(session: Session, args: list[str]) -> str:
    line = getattr(session, "current_line", None)
    if isinstance(line, str) and line.strip():
        return line.strip()
    return " ".join([session.current_cmd, *args])


_FORMATS = "abcdefghijklmnopqrstuvwxyz"
GDB_ALIASES = (
    "print",
    "output",
    "ptype",
    "ptype/o",
    *[f"{n}/{f}" for n in ("p", "print", "output") for f in _FORMATS],
)


@command("gdb", summary="gdb command", help=GDB_HELP, aliases=GDB_ALIASES)
def cmd_gdb(session: Session, args: list[str]) -> None:
    """`gdb <command>`; also the gdb commands crash passes through when typed alone (p/x, ptype ...)."""
    line = _raw_line(session, args)
    if session.current_cmd == "gdb":
        parts = line.split(None, 1)
        if len(parts) < 2:
            from crashpy.commands.help import print_usage

            print_usage(session, "gdb")
            return
        line = parts[1]
    session.current_cmd = "gdb"
    try:
        run_gdb_command(session, line)
    except CrashpyError as e:
        # crash names the failing command "gdb" whatever was typed (`ptype foo` runs as `gdb ptype foo`).
        session.println(f"gdb: {e}")
        session.errors += 1
