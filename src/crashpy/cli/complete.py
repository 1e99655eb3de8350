"""Tab completion at the prompt: command names and aliases, options, symbols, struct/union names,
`struct.member` paths and pids.  Everything it needs is read on first use and cached on the Program."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from crashpy.session import EXTERNAL_COMMANDS, Session

# Commands whose arguments name a struct or union first.
TYPE_COMMANDS = {"struct", "union", "*", "whatis", "ptype", "size"}
# Commands that take pids.
PID_COMMANDS = {"ps", "set", "task", "bt", "foreach", "files", "vm", "net", "sig", "kmem"}
_SYNOPSIS_OPTION = re.compile(r"(?<![\w-])-([A-Za-z0-9])")
MAX_MATCHES = 500


def command_names(session: Session) -> list[str]:
    return sorted(set(session.commands) | set(session.aliases) | EXTERNAL_COMMANDS)


def command_options(session: Session, name: str) -> list[str]:
    """The one-letter options the command's SYNOPSIS shows (`-a`, `-T`, ...)."""
    cmd = session.commands.get(name)
    if cmd is None:
        return []
    text = cmd.help
    start = text.find("SYNOPSIS")
    end = text.find("DESCRIPTION", start)
    synopsis = text[start:end] if start >= 0 else ""
    return sorted({f"-{m}" for m in _SYNOPSIS_OPTION.findall(synopsis)})


def symbol_names(session: Session, prefix: str) -> list[str]:
    """vmlinux symbol names that start with `prefix` (searched in .strtab, no table built)."""
    prog = session.prog
    image = getattr(prog, "image", None)
    if image is None or not prefix:
        return []

    def strtab() -> bytes:
        return bytes(image.symbols()[1])

    table: bytes = prog.cache("completion_strtab", strtab)
    found: set[str] = set()
    pattern = re.compile(b"\0(" + re.escape(prefix.encode()) + rb"[A-Za-z0-9_.$]*)\0")
    pos = 0
    while len(found) < MAX_MATCHES:
        m = pattern.search(table, pos)
        if m is None:
            break
        name = m.group(1).decode("ascii", "replace")
        if "." not in name:  # compiler-made local names (foo.cold, foo.isra.0) are not typed at crash>
            found.add(name)
        pos = m.end() - 1
    return sorted(found)


def type_names(session: Session, prefix: str) -> list[str]:
    """struct and union names that start with `prefix`."""

    def names() -> list[str]:
        btf = session.prog.btf
        return sorted(set(btf.type_names("struct")) | set(btf.type_names("union")))

    try:
        every: list[str] = session.prog.cache("completion_types", names)
    except Exception:  # no BTF: nothing to offer
        return []
    return [n for n in every if n.startswith(prefix)][:MAX_MATCHES]


def member_paths(session: Session, word: str) -> list[str]:
    """`task_struct.se.vr` -> `task_struct.se.vruntime`: members of the struct named before the dots."""
    head, _, partial = word.rpartition(".")
    type_name, *path = head.split(".")
    try:
        t = session.prog.btf.lookup_type(type_name)
        if path:
            t = t.lookup_member(".".join(path)).type
        members = t.members()
    except Exception:
        return []
    out: list[str] = []
    for m in members:
        if m.name and m.name.startswith(partial):
            out.append(f"{head}.{m.name}")
    return out


def pids(session: Session, prefix: str) -> list[str]:
    try:
        from crashpy.helpers.tasks import task_table

        table = task_table(session.prog)
    except Exception:
        return []
    return sorted({str(tc.pid) for tc in table.contexts if str(tc.pid).startswith(prefix)}, key=int)


def complete(session: Session, text_before_cursor: str) -> list[str]:
    """The words that could replace the last word of `text_before_cursor`."""
    words = text_before_cursor.split()
    if text_before_cursor.endswith(" "):
        words.append("")
    if len(words) <= 1:
        prefix = words[0] if words else ""
        return [n for n in command_names(session) if n.startswith(prefix)]
    cmd = words[0]
    alias = session.aliases.get(cmd)
    if alias is not None and alias.words:
        cmd = alias.words[0]
    word = words[-1]
    if word.startswith("-"):
        return [o for o in command_options(session, cmd) if o.startswith(word)]
    if "." in word and not word[0].isdigit():
        return member_paths(session, word)
    if word.isdigit() or (word == "" and cmd in PID_COMMANDS):
        return pids(session, word) if cmd in PID_COMMANDS else []
    if cmd in TYPE_COMMANDS:
        return type_names(session, word) or symbol_names(session, word)
    return symbol_names(session, word)


class CrashCompleter(Completer):
    """prompt_toolkit's Completer over complete()."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        word = "" if before.endswith(" ") or not before else before.split()[-1]
        for cand in _limit(complete(self.session, before)):
            yield Completion(cand, start_position=-len(word))


def _limit(items: Iterable[str]) -> Iterator[str]:
    for i, item in enumerate(items):
        if i >= MAX_MATCHES:
            return
        yield item
