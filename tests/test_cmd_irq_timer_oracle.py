"""irq and timer: crashpy against crash 8.0.6, text for text, one crash session per dump.

The interrupt numbers come from each dump: those with a descriptor, one with actions, one past the
last; every option (-u, -a, -b, -s with and without -c, -d) and bad input; timer's wheel and -r with -C lists.  scale.d31.zlib has 4 CPUs
(its -s columns and -c lists), la57.elf walks 5-level page tables.
"""

from __future__ import annotations

from functools import cache

import pytest

from crashpy.helpers import irq as irqs
from crashpy.helpers.sysinfo import cpu_count
from tests.crashpy_runner import crash_differences, describe, program
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "la57.elf", "scale.d31.zlib"]

BAD_INPUT = [
    "irq -x",
    "irq zz",
    "irq -1",
    "irq 1 zz",
    "irq -c 0",
    "irq -s -c 0 -c 1",
    "irq -s -c zz",
    "irq -s -c 99",
    "irq -u 5",
    "timer -x",
    "timer -C",
    "timer -C zz",
    "timer -C 99",
    "timer 1",
]


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    table = irqs.desc_table(prog)
    count = irqs.nr_irqs(prog)
    used = sorted(table)
    with_action = [i for i in used if irqs.irq_actions(prog, table[i])]
    without = [i for i in used if i not in with_action]
    cmds = ["irq", "irq -u", "irq -a", "irq -b", "irq -s", "irq -d"]
    cmds.append("irq " + " ".join(str(i) for i in with_action))
    cmds.append("irq " + " ".join(str(i) for i in [*without[:2], *reversed(with_action[:2])]))
    cmds += [f"irq {count - 1}", f"irq {count}", f"irq {with_action[0]} {count + 5}"]
    ncpus = cpu_count(prog)
    cmds += ["irq -s -c 0", f"irq -s -c {ncpus - 1}", "irq -s -c all", f"irq -s -c 0-{ncpus - 1}"]
    if ncpus > 2:
        cmds += ["irq -s -c 1,3", "irq -s -c 0,2-3"]
    cmds += ["timer", "timer -r", "timer -C 0", f"timer -r -C {ncpus - 1}", "timer -C all -r"]
    if ncpus > 2:
        cmds += ["timer -C 1,3", "timer -r -C 0,2-3"]
    return cmds + BAD_INPUT


@pytest.mark.parametrize("name", DUMPS)
def test_irq_timer_match_crash(name: str) -> None:
    paths = ensure([name])
    bad = crash_differences(paths["vmlinux"], paths[name], commands(name))
    assert not bad, describe(bad)


def test_cpu_ranges() -> None:
    assert irqs.cpu_ranges([0, 1, 3, 5, 6, 7]) == "0-1,3,5-7"
    assert irqs.cpu_ranges([]) == "" and irqs.cpu_ranges([2]) == "2"


def test_irq_json_is_the_rows_of_the_text() -> None:
    """`irq --json` names each descriptor and its actions as the text lists them."""
    import json

    from tests.crashpy_runner import run_crashpy

    paths = ensure(["sysrq.elf"])
    text, doc_text = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], ["irq -u", "irq --json"])
    rows = json.loads(doc_text)["irqs"]
    assert rows and len(rows) == len(text.splitlines()) - 1 - sum(len(r["actions"][1:]) for r in rows)
    for row in rows:
        first = f"{row['irq']:>3d}   {row['irq_desc']}"
        assert any(line.startswith(first) for line in text.splitlines())
        for action in row["actions"]:
            assert f'{action["irqaction"]}  "{action["name"]}"' in text
