"""ps and task formatting pieces that need no dump."""

from __future__ import annotations

import pytest

from crashpy.commands.ps import _center, _translate_ns, make_cpumask, make_sched_policy, task_header
from crashpy.commands.task import _member_lines
from crashpy.errors import CommandError
from crashpy.helpers.tasks import TaskContext


def test_task_header() -> None:
    tc = TaskContext(0xFFFF888003DFB000, 1, 1, "init", 1, 0, 0, 0, 0)
    assert task_header(tc) == 'PID: 1        TASK: ffff888003dfb000  CPU: 1    COMMAND: "init"'


def test_center_like_mkstring() -> None:
    assert _center("CURRENT", 11, True) == "  CURRENT  "
    assert _center("1024", 11, False) == "   1024    "
    assert _center("1024", 11, True) == "    1024   "
    assert _center("toolongforit", 4, True) == "toolongforit"


def test_translate_nanoseconds() -> None:
    assert _translate_ns(2_000_000) == "0 00:00:00.002"
    assert _translate_ns((86400 * 3 + 3600 * 5 + 61) * 10**9 + 7 * 10**6) == "3 05:01:01.007"


def test_sched_policy() -> None:
    assert make_sched_policy("normal") == 1
    assert make_sched_policy("fifo,RR") == 0b110
    assert make_sched_policy("5") == 1 << 5
    assert make_sched_policy("0x6") == 1 << 6
    with pytest.raises(CommandError, match="bogus: invalid scheduling policy"):
        make_sched_policy("bogus")


def test_cpumask() -> None:
    assert make_cpumask("1", 2) == [1]
    assert make_cpumask("0-1", 2) == [0, 1]
    assert make_cpumask("a", 3) == [0, 1, 2]
    with pytest.raises(CommandError):
        make_cpumask("5", 2)


def test_member_lines_takes_nested_blocks() -> None:
    text = (
        "struct task_struct {\n"
        "  thread_info = {\n"
        "    cpu = 1\n"
        "  },\n"
        "  pid = 1,\n"
        "  comm = \"init\",\n"
        "}\n"
    )
    assert _member_lines(text, ["thread_info"]) == "  thread_info = {\n    cpu = 1\n  },\n"
    assert _member_lines(text, ["pid"]) == "  pid = 1,\n"
    assert _member_lines(text, ["cpu"]) == ""
