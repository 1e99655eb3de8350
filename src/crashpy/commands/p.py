"""p: crash's print command, and the gdb commands crash passes through (print, p/x, output, gdb ...).

crash's `p` hands its expression to gdb and post-processes the text (symbols.c: cmd_p,
process_gdb_output, display_per_cpu_info); crashpy evaluates and prints the expression itself in
gdb's format (session.gdb, crashpy/expr/gdb.py), then applies the same post-processing. A failed
expression prints crash's one line, `p: gdb request failed: p foo` (crash keeps gdb's own message out
of its output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.commands.whatis import whatis_variable
from crashpy.errors import CrashpyError
from crashpy.expr import GdbError
from crashpy.expr.evaluator import UnknownSymbolType
from crashpy.expr.gdb import ERR, PartialPrint, decode_format, marked, process_gdb_output, render_errors
from crashpy.helpers.numbers import command_args, cpu_spec, getopt, radix_option
from crashpy.helpers.sysinfo import crash_cpu_count
from crashpy.object import is_percpu_symbol
from crashpy.types.valprint import PartialOutput

if TYPE_CHECKING:
    from crashpy.session import Session


def cpu_mask(session: Session, spec: str) -> list[int]:
    """crash's make_cpumask() for `symbol:cpuspec`: "1", "0-1", "0,2", "a"/"all"; "" is the current cpu."""

    def warn(message: str) -> None:
        session.println(f"{session.current_cmd}: {message}")

    return cpu_spec(spec, crash_cpu_count(session.prog), session.current_cpu, warn)


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
    for c in range(crash_cpu_count(session.prog)):
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
        text = session.gdb.print(expr, "", radix or session.radix)
    except PartialPrint as e:
        errors, plain = render_errors(e.partial, inline=leader is None)
        session.write(errors if leader is not None else plain)
        raise CrashpyError(f"gdb request failed: {request}") from None
    except UnknownSymbolType as e:
        raise CrashpyError(_unknown_type(session, e, request)) from None
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

    argv = command_args(session.current_line, args)
    parsed = getopt(argv, "dhxu")
    radix = 0
    for opt, _ in parsed.opts:
        if opt in "dhx":
            radix = radix_option(radix, 10 if opt == "d" else 16)
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
    if sym is None:
        from crashpy.object import module_variable

        if module_variable(prog, first) is not None:
            leader = first  # a loaded module's variable (mod -s): crash's symbol table has it too
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

  A dump is not a running program: the gdb commands that start, stop, step or
  attach to a process, set breakpoints or watchpoints, or load other files
  (run, attach, kill, break, step, continue, file, shell and their kind) are
  refused with a "prohibited gdb command" line.  define, document, while and
  if belong in a gdb command file and are refused as well.
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
                session.write(render_errors(session.gdb.print(rest, fmt, session.radix), inline=True)[1])
            except PartialPrint as e:
                session.write(render_errors(e.partial, inline=True)[1])
                raise
        elif name == "output":
            fmt = decode_format(spec, "output") if slash else ""
            mem = session.gdb.memory
            mem.take()
            try:
                text = session.gdb.output(rest, fmt, session.radix)
            except PartialOutput as e:
                session.write(render_errors(e.partial + marked(mem.take()), inline=True)[1])
                raise
            except CrashpyError:
                session.write(marked(mem.take()).replace(ERR, ""))
                raise
            session.write(render_errors(text, inline=True)[1])
        elif name in ("ptype", "whatis"):
            from crashpy.commands.ptype import gdb_type_command

            session.write(gdb_type_command(session, name, spec if slash else None, rest))
        else:
            raise GdbError(f'Undefined command: "{name}".  Try "help".')
    except UnknownSymbolType as e:
        raise CrashpyError(_unknown_type(session, e, line)) from None
    except CrashpyError:
        raise CrashpyError(f"gdb request failed: {line}") from None


def _unknown_type(session: Session, e: UnknownSymbolType, request: str) -> str:
    """crash's line for a variable whose type is unknown; without a vmlinux, why, and how to cast it."""
    if session.prog.debuginfo:
        return f"gdb request failed: {request}"
    return (
        f"'{e.symbol}' has unknown type (no vmlinux, and the kernel's BTF does not record it); "
        f"cast it to its declared type: p *(unsigned long *)&{e.symbol}"
    )


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


# gdb commands that need a live process or change the session's files: crash refuses them on a dump
# (gdb_interface.c, is_restricted_command); the second set only makes sense in a command file.
PROHIBITED = frozenset(
    """run r break b tbreak hbreak thbreak rbreak watch rwatch awatch attach continue c fg detach finish
    handle interrupt jump kill next nexti signal step s stepi target until delete clear disable enable
    condition ignore catch tcatch return file exec-file core-file symbol-file load si ni shell sy""".split()
)
RESTRICTED = frozenset({"define", "document", "while", "if"})


def restricted_message(word: str, program: str = "crash") -> str | None:
    """crash's refusal of a gdb command it will not pass on (the program's name leads it), else None."""
    if word in PROHIBITED:
        return f"{program}: prohibited gdb command: {word}"
    if word in RESTRICTED:
        pad = " " * (len(program) + 2)
        return (
            f"{program}: restricted gdb command: {word}\n"
            f'{pad}"{word}" may only be used in a .gdbinit file or in a command file.\n'
            f"{pad}The .gdbinit file is read automatically during {program} initialization.\n"
            f"{pad}Other user-defined command files may be read interactively during\n"
            f'{pad}{program} runtime by using the gdb "source" command.'
        )
    return None


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
        refusal = restricted_message(line.split()[0])
        if refusal is not None:
            session.println(refusal)
            session.errors += 1
            return
    session.current_cmd = "gdb"
    try:
        run_gdb_command(session, line)
    except CrashpyError as e:
        # crash names the failing command "gdb" whatever was typed (`ptype foo` runs as `gdb ptype foo`).
        session.println(f"gdb: {e}")
        session.errors += 1
