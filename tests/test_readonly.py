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
