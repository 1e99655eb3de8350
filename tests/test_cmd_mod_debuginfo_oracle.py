"""mod -s / -S / -d / -D / -r / -R / -o / -g (module debuginfo) against crash 8.0.6, one crash session
per dump: the table after loading, then what a loaded module's DWARF gives bt -l, dis -l, sym, p,
whatis and struct.  bug.elf and null.elf panic inside oracle_crash (its frames get source lines),
sysrq.elf and kaslr.elf check the placing of the sections (kaslr.elf moves the kernel).

The object files are the test kernel's Debian -dbg tree (.../usr/lib/debug/lib/modules/<release>),
its stripped modules (.../lib/modules/<release>: no DWARF, the table still names them) and the test's
own oracle_crash.ko (built with debuginfo).  crash's state changes with mod -s, so crashpy runs each
dump's commands in a Program of its own (the shared one of tests/crashpy_runner.py stays clean).

Named differences (not compared):
- `bt` on null.elf: crash 8.0.6 stops after frame #0 (panic) and jumps to the user-mode registers,
  with or without module debuginfo (it cannot unwind past panic() there); crashpy shows the whole
  stack, and its bt -l is checked for oracle_crash.c's lines instead.
- `sym -l` / `sym -m` after loading: crash rebuilds the module's symbol list from the object file
  (its nm letters, which crashpy takes too, but also the rare object-file-only symbol such as
  virtio_blk's `__param`, and equal-valued symbols in the order of glibc's unstable qsort);
  crashpy keeps the dump's kallsyms list with the object file's letters.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from crashpy.helpers.modules import module_symtab
from crashpy.loader import open_program
from tests.crashpy_runner import describe, program, run_session
from tests.oracle import run_crash
from tools.vmcores import ensure

DUMPS = ["bug.elf", "null.elf", "sysrq.elf", "kaslr.elf"]


def _paths() -> tuple[Path, Path, Path]:
    """The -dbg module tree, the stripped module tree and oracle_crash.ko."""
    files = ensure([])
    stripped = Path(files["modules_dir"])
    release = stripped.name
    kernel = stripped.parent.parent.parent  # .../kernel/lib/modules/<release>
    dbg = kernel / "usr" / "lib" / "debug" / "lib" / "modules" / release
    return dbg, stripped, Path(files["oracle_crash.ko"])


@cache
def _oracle_base(name: str) -> int:
    """Where oracle_crash was loaded in the dump (mod -s takes a module's base address too)."""
    files = ensure([name])
    symtab = module_symtab(program(files["vmlinux"], files[name]))
    return next(lm.base for lm in symtab.modules if lm.name == "oracle_crash")


@cache
def commands(name: str) -> list[str]:
    dbg, stripped, ko = _paths()
    missing = ko.parent / "no-such-module.ko"
    out = [
        "mod",
        f"mod -s oracle_crash {ko}",
        "mod",
        "bt",
        "bt -l",
        "sym oracle_BUG",
        "sym oracle_trigger_write",
        "dis -l oracle_BUG",
        "p oracle_dir",
        "p oracle_null_ptr",
        "whatis oracle_trigger_write",
        "whatis oracle_dir",
        f"mod -s oracle_crash {ko}",  # already loaded: the row again
        "mod -s oracle_crash",  # no file of that name in the default places of this machine
        "mod -s virtio_net",
        "mod -d oracle_crash",
        "sym oracle_BUG",
        f"mod -s {_oracle_base(name):016x} {ko}",  # by base address; mod -S keeps this file (no other)
        f"mod -S {dbg}",
        "struct send_queue",
        "whatis struct virtnet_info",
        "sym virtnet_poll",
        "sym napi_weight",  # its nm letter from the object file: (d), not kallsyms' (?)
        "p napi_weight",
        "p virtio_net_driver.driver.name",
        "dis -l virtnet_get_channels",  # ends where the object file's symbol ends (no padding)
        "whatis virtnet_cpu_online",
        "struct receive_queue -o",
        "mod -r",
        "mod -g",
        "mod -o",
        "mod -d virtio_net",
        "mod",
        "mod -D",
        "mod",
        f"mod -rs virtio_blk {dbg}/kernel/drivers/block/virtio_blk.ko",
        "mod -R",
        # bad input
        "mod -s foo",
        "mod -d foo",
        "mod -S /nonexistent-dir",
        "mod -s oracle_crash /etc/passwd",
        f"mod -s oracle_crash {missing}",
        "mod -s",
        "mod -S -D",
        f"mod -S {dbg} extra",
    ]
    if name == "sysrq.elf":
        out += [f"mod -S {stripped}", "sym virtnet_poll", "mod -D"]
    return out


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    files = ensure([name])
    vmlinux, dump = files["vmlinux"], files[name]
    cmds = commands(name)
    prog = open_program(str(vmlinux), [str(dump)])  # its own: mod -s changes the Program's state
    return run_crash(vmlinux, dump, cmds), run_session(prog, cmds)


def _named_difference(name: str, command: str) -> bool:
    return name == "null.elf" and command in ("bt", "bt -l")


@pytest.mark.parametrize("name", DUMPS)
def test_mod_debuginfo_matches_crash(name: str) -> None:
    expected, got = outputs(name)
    bad = [
        (c, e, g)
        for c, e, g in zip(commands(name), expected, got, strict=True)
        if e != g and not _named_difference(name, c)
    ]
    assert not bad, describe(bad)


@pytest.mark.parametrize("name", ["bug.elf", "null.elf"])
def test_module_frames_get_source_lines(name: str) -> None:
    """bug.elf and null.elf panic in oracle_crash: after mod -s, bt -l gives the module's frames (and
    the exception RIP inside it) oracle_crash.c's lines; on bug.elf the whole bt -l equals crash's."""
    expected, got = outputs(name)
    text = got[commands(name).index("bt -l")]
    lines = text.splitlines()
    module_frames = [i for i, line in enumerate(lines) if line.endswith("[oracle_crash]")]
    assert module_frames
    for i in module_frames:
        assert "/oracle_crash.c: " in lines[i + 1]
    assert text.count("/oracle_crash.c: ") == len(module_frames) + 1  # and the exception RIP's
    if name == "bug.elf":
        assert text == expected[commands(name).index("bt -l")]


def test_mod_S_without_a_tree_finds_nothing_here() -> None:
    """mod -S with no directory looks in the system's places only (none hold this kernel's modules)."""
    dbg, _stripped, _ko = _paths()
    assert not os.path.isdir(f"/usr/lib/debug/lib/modules/{dbg.name}")
