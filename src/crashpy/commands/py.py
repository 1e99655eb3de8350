"""py / python: Python inside the session, with the opened dump bound as `prog` (crashpy.api.Kernel)."""

from __future__ import annotations

import code
import contextlib
import sys
import traceback
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import PROVIDERS, command
from crashpy.errors import CommandError

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  py - evaluate Python with the dump at hand

SYNOPSIS
  py [-t] [python-expression | python-statements]

DESCRIPTION
  Runs Python code against the dump being examined.  The name "prog" is the
  open dump (crashpy's Python API, see docs/python-api.md), "session" is this
  command session, and "crashpy" is the crashpy package; names assigned by one
  py command are kept for the next ones.  The value of an expression is shown
  the way the Python prompt shows it; statements show what they print.

  Without code, and when the terminal is interactive, a Python console starts;
  end it with Ctrl-D (or exit()) to come back to this prompt.  "python" is
  another name for this command.

  A Python error is reported in one line, its type and its message, and the
  session goes on.  The line is split as every command line is, so code that
  holds "|", "!" or ">" must put them inside parentheses or quotes.

    -t  on an error, show the whole Python traceback instead of one line.

EXAMPLES
  The number of tasks, and the pids of the tasks running at the time of the dump:

    crash> py len(prog.tasks())
    57
    crash> py [t.pid for t in prog.tasks() if t.active]
    [1, 102]

  A global variable and a member reached through pointers:

    crash> py int(prog["jiffies"])
    4294893465
    crash> py int(prog.task(1).mm.map_count)
    10

  Python statements, and the output of another command as text:

    crash> py for m in prog.modules()[:2]: print(m.name, m.size)
    virtio_ring 49152
    failover 16384
    crash> py prog.run("sys").splitlines()[2]
    '        CPUS: 2 [OFFLINE: 1]'
"""

NAMESPACE_KEY = "py.namespace"


def _namespace(session: Session) -> dict[str, Any]:
    """The session's Python globals, made once and kept between py commands."""
    ns = session.state.get(NAMESPACE_KEY)
    if not isinstance(ns, dict):
        namespace = PROVIDERS.get("py.namespace")  # crashpy.api's, plugged in from above
        if namespace is None:
            raise CommandError("the Python API (crashpy.api) is not loaded")
        ns = namespace(session.prog, session)
        session.state[NAMESPACE_KEY] = ns
    return ns


def code_text(session: Session, args: list[str]) -> str:
    """The code as typed: the raw command line after the command name when the session keeps it,
    otherwise the words joined again."""
    raw = getattr(session, "current_line", None)
    if isinstance(raw, str):
        raw = raw.strip()
        name, _, rest = raw.partition(" ")
        if name in ("py", "python") and rest.strip():
            rest = rest.strip()
            if args and args[0] == "-t" and rest.startswith("-t"):
                rest = rest[2:].strip()
            return rest
    return " ".join(args[1:] if args and args[0] == "-t" else args)


def run_code(session: Session, text: str, show_traceback: bool = False) -> None:
    """Evaluate `text` as an expression (its repr is printed, None is not) or run it as statements;
    stdout goes to the session's output."""
    ns = _namespace(session)
    try:
        try:
            compiled = compile(text, "<py>", "eval")
            is_expr = True
        except SyntaxError:
            compiled = compile(text, "<py>", "exec")
            is_expr = False
        with contextlib.redirect_stdout(session.out):
            if is_expr:
                value = eval(compiled, ns)
                if value is not None:
                    ns["_"] = value
                    session.println(repr(value))
            else:
                exec(compiled, ns)
    except SystemExit:
        return
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # the user's error: one line (or the traceback with -t), never fatal
        if show_traceback:
            session.write("".join(traceback.format_exception(type(e), e, _user_frames(e))))
        else:
            message = str(e).splitlines()[0] if str(e) else ""
            session.println(f"py: {type(e).__name__}: {message}" if message else f"py: {type(e).__name__}")
        session.errors += 1


def _user_frames(e: BaseException) -> Any:
    """The traceback from the user's code (<py>) down."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "<py>":
        tb = tb.tb_next
    return tb or e.__traceback__


def interactive(session: Session) -> None:
    """A Python console with the session's names; Ctrl-D or exit() comes back to crashpy."""
    ns = _namespace(session)
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and history for input()
        import rlcompleter

        readline.set_completer(rlcompleter.Completer(ns).complete)
        readline.parse_and_bind("tab: complete")
    console = code.InteractiveConsole(ns, filename="<python>")
    session.out.flush()
    try:
        console.interact(
            banner="Python inside crashpy: prog, session and crashpy are bound.  Ctrl-D returns to crashpy.",
            exitmsg="",
        )
    except SystemExit:
        pass


@command("py", summary="evaluate Python with the dump at hand", help=HELP, aliases=("python",))
def cmd_py(session: Session, args: list[str]) -> None:
    show_traceback = bool(args) and args[0] == "-t"
    text = code_text(session, args)
    if not text.strip():
        if sys.stdin.isatty():
            interactive(session)
        else:
            session.println("py: no code given (the interactive console needs a terminal)")
            session.errors += 1
        return
    run_code(session, text, show_traceback)
