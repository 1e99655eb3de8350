"""The interactive prompt (prompt_toolkit): persistent history, crash's history recall, tab completion,
the pager, and Ctrl-C that stops a command without ending the session."""

from __future__ import annotations

import sys

from crashpy.cli.history import PROMPT, CommandHistory, history_path
from crashpy.session import ExitSession, Session


def _prompt_session(session: Session) -> object:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    from crashpy.cli.complete import CrashCompleter

    history: FileHistory | InMemoryHistory
    try:
        path = history_path()
        with open(path, "a"):
            pass
        history = FileHistory(path)
    except OSError:  # an unwritable home: history for this session only
        history = InMemoryHistory()
    return PromptSession(history=history, completer=CrashCompleter(session), complete_while_typing=False)


def run_typed_line(session: Session, recall: CommandHistory, typed: str) -> None:
    """One line as typed at the prompt: history recall first (crash's `r`, `!!`, `h`), then the command."""
    got = recall.expand(typed)
    if got.text:
        session.write(got.text)
    if got.line is None:
        return
    recall.add(got.line.strip())
    session.run_line(got.line)


def interactive(session: Session) -> None:
    """Read and run commands until `q`, `exit` or end of input (Ctrl-D)."""
    ps = _prompt_session(session)
    session.interactive = True
    session.paging = sys.stdout.isatty()
    recall = CommandHistory()
    while True:
        try:
            line = ps.prompt(PROMPT)  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            continue
        except EOFError:
            session.println()
            return
        try:
            run_typed_line(session, recall, line)
        except ExitSession:
            return
        except KeyboardInterrupt:  # outside a command: in a pipe's shell or the pager
            sys.stderr.write("\n")
        sys.stdout.flush()
