"""mod: the module table, taint letters and option handling, compared with crash 8.0.6."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crashpy_runner import run_crashpy
from tests.oracle import run_crash

DUMPS = ["sysrq.elf", "bug.elf", "kaslr.elf", "la57bug.elf"]

# Everything crash prints for these without reading a module object file.
SAME = [
    "mod",
    "mod -t",
    "mod -g",
    "mod -r",
    "mod -R",
    "mod -t -g",
    "mod -tr",
    "mod xyz",
    "mod abc def",
    "mod -D",
    "mod -o",
    "mod -d virtio",
    "mod -d xyz",
    "mod -s xyz",
    "mod -s {module:x}",  # the first module's struct module address in the dump
    "mod -s virtio a b",
    "mod -x",
    "mod -x -o",
    "mod -t -t",
    "mod -tS",
    "mod -S a b",
    "mod -S /nonexistent-directory",
    "mod -s virtio",  # no object file in this machine's default places: crash's one line
    "mod -S",  # likewise, one line per module
]


@pytest.mark.parametrize("name", DUMPS)
def test_mod_matches_crash(dumps: dict[str, Path], name: str) -> None:
    vmlinux, dump = dumps["vmlinux"], dumps[name]
    (table,) = run_crashpy(vmlinux, dump, ["mod"])
    module = int(table.splitlines()[1].split()[0], 16)  # MODULE NAME BASE SIZE OBJECT FILE
    same = [c.format(module=module) for c in SAME]
    theirs = run_crash(vmlinux, dump, same)
    mine = run_crashpy(vmlinux, dump, same)
    assert theirs[0] == table
    for cmd, want, got in zip(same, theirs, mine, strict=False):
        assert got == want, cmd
    assert "(not loaded)  [CONFIG_KALLSYMS]" in mine[0]


def test_mod_center() -> None:
    from crashpy.commands.mod import _center, _strip_g_r

    assert _center("MODULE", 16) == "     MODULE     "
    assert _center("BASE", 16) == "      BASE      "
    assert _strip_g_r(["-g", "-tr", "-gr", "x", "-s"]) == ["-t", "x", "-s"]
