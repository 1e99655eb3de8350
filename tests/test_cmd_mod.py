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
    "mod -s ffffffffc0208340",
    "mod -s virtio a b",
    "mod -x",
    "mod -x -o",
    "mod -t -t",
    "mod -tS",
    "mod -S a b",
    "mod -S /nonexistent-directory",
]
UNSUPPORTED = ["mod -s virtio", "mod -S"]


@pytest.mark.parametrize("name", DUMPS)
def test_mod_matches_crash(dumps: dict[str, Path], name: str) -> None:
    theirs = run_crash(dumps["vmlinux"], dumps[name], SAME)
    mine = run_crashpy(dumps["vmlinux"], dumps[name], SAME + UNSUPPORTED)
    for cmd, want, got in zip(SAME, theirs, mine, strict=False):
        assert got == want, cmd
    assert "(not loaded)  [CONFIG_KALLSYMS]" in mine[0]
    for cmd, got in zip(UNSUPPORTED, mine[len(SAME) :], strict=True):
        assert got.startswith("mod: ") and "not supported yet" in got, cmd
        assert got.count("\n") == 1, cmd


def test_mod_center() -> None:
    from crashpy.commands.mod import _center, _strip_g_r

    assert _center("MODULE", 16) == "     MODULE     "
    assert _center("BASE", 16) == "      BASE      "
    assert _strip_g_r(["-g", "-tr", "-gr", "x", "-s"]) == ["-t", "x", "-s"]
