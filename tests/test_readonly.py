"""Nothing is ever written to the dump or the vmlinux: every open of them is read-only."""

from __future__ import annotations

import builtins
import io
import mmap
import os
from pathlib import Path
from typing import Any

import pytest

from crashpy.loader import open_program
from crashpy.session import Session


@pytest.mark.parametrize("name", ["sysrq.elf", "sysrq.d31.zlib", "sysrq.d31.flat", "sysrq.elf.trunc40"])
def test_only_read_only_opens(monkeypatch: pytest.MonkeyPatch, dumps: dict[str, Path], name: str) -> None:
    watched = {str(dumps["vmlinux"]), str(dumps[name])}
    modes: list[tuple[str, object]] = []
    real_open, real_os_open, real_mmap = builtins.open, os.open, mmap.mmap

    def spy_open(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
        if str(file) in watched:
            modes.append((str(file), mode))
        return real_open(file, mode, *a, **k)

    def spy_os_open(path: Any, flags: int, *a: Any, **k: Any) -> int:
        if str(path) in watched:
            modes.append((str(path), flags))
        return real_os_open(path, flags, *a, **k)

    class SpyMmap(real_mmap):  # type: ignore[misc, valid-type]
        def __new__(cls, *a: Any, **k: Any) -> Any:
            access = k.get("access", a[3] if len(a) > 3 else None)
            modes.append(("mmap", access))
            return real_mmap(*a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(mmap, "mmap", SpyMmap)
    prog = open_program(str(dumps["vmlinux"]), [str(dumps[name])], check=False)
    session = Session(prog, io.StringIO(), minimal=name.endswith("trunc40"))
    for cmd in ("log", "rd -64 linux_banner 8", "sym linux_banner"):
        session.run_line(cmd)
    assert modes, "the spies saw no open"
    for what, mode in modes:
        if what == "mmap":
            assert mode == mmap.ACCESS_READ
        elif isinstance(mode, str):
            assert set(mode) <= {"r", "b"}, (what, mode)
        else:
            assert isinstance(mode, int) and mode & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC) == 0


def test_files_unchanged_after_a_session(dumps: dict[str, Path], tmp_path: Path) -> None:
    """A dump and a vmlinux made read-only keep their checksums after a session that runs the commands
    that read most (and the ones that load files: mod -S, autopsy), with and without the vmlinux."""
    import hashlib
    import shutil
    import stat
    import subprocess
    import sys

    dump = tmp_path / "sysrq.d31.zlib"
    shutil.copyfile(dumps["sysrq.d31.zlib"], dump)
    vmlinux = dumps["vmlinux"]

    def digest(path: Path) -> str:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        return h.hexdigest()

    before = {p: (digest(p), p.stat().st_mtime_ns) for p in (dump, vmlinux)}
    mode = vmlinux.stat().st_mode
    dump.chmod(0o444)
    vmlinux.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    commands = "sys\nlog\nps\nbt -a\nkmem -i\nkmem -s\nfiles\nnet\nvm\nsearch -k init_task\nautopsy\n" \
               f"mod -S {dumps['modules_dir']}\ndis -l schedule 4\nq\n"
    try:
        for files in ([str(vmlinux), str(dump)], [str(dump)]):
            proc = subprocess.run([sys.executable, "-m", "crashpy", "-s", *files], input=commands,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, proc.stderr
            assert "internal error" not in proc.stdout
    finally:
        vmlinux.chmod(mode)
    assert {p: (digest(p), p.stat().st_mtime_ns) for p in (dump, vmlinux)} == before
