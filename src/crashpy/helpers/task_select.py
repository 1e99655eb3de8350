"""Task selection as crash's `foreach` does it: pids, task addresses, command names, 'regex' names,
a task state, and the kernel / user / gleader / active filters. Pure data: nothing is printed; the
messages crash prints along the way are returned for the caller to show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crashpy.errors import CommandError
from crashpy.helpers.numbers import is_a_number
from crashpy.helpers.tasks import TaskContext, TaskTable, str_to_context

# The commands foreach can run; the first of these words ends the task selection.
KEYWORDS = ("bt", "vm", "task", "set", "files", "net", "vtop", "sig", "test", "ps")

STATES = ("RU", "IN", "UN", "ST", "TR", "ZO", "DE", "PA", "WA", "ID", "NE", "SW")


class SelectionError(CommandError):
    """A selection crash refuses outright (its error(FATAL) while reading the arguments)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage
        self.messages: list[str] = []


@dataclass
class Selection:
    """What the words before the command name chose, and the command with its own arguments."""

    pids: list[int] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)
    comms: list[str] = field(default_factory=list)
    regexes: list[re.Pattern[str]] = field(default_factory=list)
    state: str | None = None
    kernel: bool = False
    user: bool = False
    gleader: bool = False
    active: bool = False
    specified: bool = False  # a task-naming word was given (even one that named no task)
    keyword: str | None = None
    args: list[str] = field(default_factory=list)  # the words after the command name
    messages: list[str] = field(default_factory=list)  # crash's INFO lines, in order

    @property
    def narrowed(self) -> bool:
        return bool(self.tasks or self.pids or self.comms or self.regexes or self.specified)


def _comm_exists(table: TaskTable, name: str) -> bool:
    name = name[:15]
    return any(tc.comm == name for tc in table.contexts)


def parse_selection(table: TaskTable, words: list[str]) -> Selection:
    """Read foreach's non-option words: selectors until the first command name, then its arguments.
    A SelectionError carries the messages that came before it in `messages`."""
    sel = Selection()
    try:
        _parse(table, words, sel)
    except SelectionError as e:
        e.messages = sel.messages
        raise
    return sel


def _parse(table: TaskTable, words: list[str], sel: Selection) -> None:
    for word in words:
        if sel.keyword is not None:
            sel.args.append(word)
            continue
        if word in KEYWORDS:
            sel.keyword = word
            continue
        if is_a_number(word):
            if word == "DE" and any(tc.pid == 0xDE for tc in table.contexts):
                raise SelectionError(
                    f"ambiguous task-identifying argument: {word}\n"
                    'for a "state" argument, use: \\DE\n'
                    'for a "pid" argument, use: 0xDE, 0xde, de or 222\n',
                    usage=True,
                )
            kind, value, _tc = str_to_context(table, word)
            if kind == "pid":
                sel.pids.append(value)
                sel.specified = True
                continue
            if kind == "task":
                sel.tasks.append(value)
                sel.specified = True
                continue
        if word == "kernel":
            if sel.user:
                raise SelectionError("user and kernel are mutually exclusive!")
            sel.kernel = True
            continue
        if word == "\\DE":
            word = "DE"
        if word in STATES:
            if sel.state is not None:
                raise SelectionError("only one task state allowed")
            if word == "SW":  # no TASK_SWAPPING since v2.6: crash has no value for it
                raise SelectionError(f"invalid task state for this kernel: {word}")
            sel.state = word
            continue
        if word == "user":
            if sel.kernel:
                raise SelectionError("user and kernel are mutually exclusive!")
            sel.user = True
            continue
        if word == "gleader":
            if sel.kernel:
                raise SelectionError("gleader and kernel are mutually exclusive!")
            sel.user = sel.gleader = True
            continue
        if word == "active":
            sel.active = True
            continue
        if len(word) >= 2 and word[0] == "'" and word[-1] == "'":
            pattern = word[1:-1]
            try:
                sel.regexes.append(re.compile(pattern))
            except re.error:
                raise SelectionError(f"invalid regular expression: {pattern}") from None
            continue
        name = word[1:] if word.startswith("\\") else word
        if _comm_exists(table, name):
            sel.comms.append(name)
            sel.specified = True
            continue
        sel.specified = True
        sel.messages.append(f'unknown argument: "{word}"')


def select_tasks(
    table: TaskTable, sel: Selection, active: set[int], order: list[TaskContext] | None = None
) -> list[TaskContext]:
    """The tasks a selection picks, in task-table order (or in `order`), each once."""
    out: list[TaskContext] = []
    for tc in order if order is not None else table.contexts:
        if sel.active and tc.task not in active:
            continue
        if sel.user and tc.is_kernel_thread:
            continue
        if sel.gleader and tc.pid != tc.tgid:
            continue
        if sel.kernel and not tc.is_kernel_thread:
            continue
        if sel.state is not None and not tc.st.startswith(sel.state):
            continue
        if sel.narrowed:
            if not (
                tc.task in sel.tasks
                or tc.pid in sel.pids
                or any(tc.comm == c[:15] for c in sel.comms)
                or any(r.search(tc.comm) for r in sel.regexes)
            ):
                continue
        out.append(tc)
    return out
