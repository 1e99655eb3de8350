"""A System.map without a vmlinux (cli/system_map.py): checked against the dump's kallsyms, the way to
the kallsyms tables when VMCOREINFO does not name them, the symbols themselves when kallsyms cannot be
decoded.  The maps are made up from the dump's own kallsyms (as link-time addresses)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crashpy.cli.system_map import ANCHORS, load_system_map
from crashpy.dumpfile.sniff import open_dump
from crashpy.errors import StartupError
from crashpy.program import Program

ROOT = Path(__file__).resolve().parent.parent
DUMPS_CACHE = Path(os.environ.get("CRASHPY_CACHE") or Path.home() / ".cache" / "crashpy")
KEEP = {"schedule", "do_exit", "panic", "init_task", "jiffies", "linux_banner", *ANCHORS}


def _dump_path(name: str) -> Path:
    sys.path.insert(0, str(ROOT))
    try:
        from tools.vmcores import Builder

        path = Builder(DUMPS_CACHE).path(name)
    except Exception as e:  # noqa: BLE001 - no test dumps here: skip
        pytest.skip(f"test dumps unavailable: {e}")
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def kaslr_dump() -> Path:
    return _dump_path("kaslr.elf")


@pytest.fixture(scope="module")
def kallsyms(kaslr_dump: Path) -> tuple[int, list[tuple[str, int, str]]]:
    """(the KASLR offset, the dump's kallsyms as (name, link-time address, letter), and the kallsyms
    tables as VMCOREINFO names them, which a System.map lists and kallsyms itself does not)."""
    from crashpy.symbols.kallsyms import TABLE_NAMES

    with open_dump(str(kaslr_dump)) as dump:
        prog = Program(dump, None)
        ks = prog.kallsyms
        offset = prog.kaslr_offset
        assert offset
        rows = [
            (n, a - offset if a >= 0xFFFFFFFF80000000 else a, letter)
            for n, a, letter in zip(ks.names, ks.addresses, ks.letters, strict=True)
        ]
        for name in TABLE_NAMES:
            addr = prog.vmcoreinfo.symbol(name)
            if addr is not None:
                rows.append((name, addr - offset, "D"))
    return offset, rows


def write_map(path: Path, rows: list[tuple[str, int, str]], *, tables: bool = True) -> Path:
    keep = [r for r in rows if r[0] in KEEP or (tables and r[0].startswith("kallsyms_"))]
    path.write_text("".join(f"{a:016x} {letter} {n}\n" for n, a, letter in sorted(keep, key=lambda r: r[1])))
    return path


class _Dump:
    """A dump whose VMCOREINFO lacks its SYMBOL(kallsyms_*) lines (a kernel before 6.0)."""

    def __init__(self, dump: object) -> None:
        self._dump = dump
        raw = dump.info.vmcoreinfo  # type: ignore[attr-defined]
        kept = b"".join(line for line in raw.splitlines(keepends=True) if not line.startswith(b"SYMBOL(kallsyms_"))
        self.info = dataclasses.replace(dump.info, vmcoreinfo=kept)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._dump, name)


def test_checked_against_kallsyms(tmp_path: Path, kaslr_dump: Path, kallsyms: tuple[int, list]) -> None:
    offset, rows = kallsyms
    good = write_map(tmp_path / "System.map", rows)
    with open_dump(str(kaslr_dump)) as dump:
        prog = Program(dump, None)
        assert load_system_map(prog, str(good)) >= 6
        assert prog.kallsyms_source == "dump"
        assert len(prog.kallsyms) > 10_000  # the dump's whole table, not the map's few lines
    moved = [(n, a + 0x1000 if n == "_stext" else a, letter) for n, a, letter in rows]
    bad = write_map(tmp_path / "System.map-other", moved)
    with open_dump(str(kaslr_dump)) as dump, pytest.raises(StartupError) as e:
        load_system_map(Program(dump, None), str(bad))
    assert str(e.value) == f"{bad} and {kaslr_dump} do not match!"


def test_tables_found_by_the_map(tmp_path: Path, kaslr_dump: Path, kallsyms: tuple[int, list]) -> None:
    offset, rows = kallsyms
    good = write_map(tmp_path / "System.map", rows)
    with open_dump(str(kaslr_dump)) as dump:
        old = Program(_Dump(dump), None)  # type: ignore[arg-type]
        with pytest.raises(Exception, match="kallsyms tables"):
            old.kallsyms  # noqa: B018
        old = Program(_Dump(dump), None)  # type: ignore[arg-type]
        assert load_system_map(old, str(good)) >= 6
        assert old.kallsyms_source == "dump" and len(old.kallsyms) > 10_000
        assert old.symbol_address("schedule") == dict((n, a) for n, a, _ in rows)["schedule"] + offset


def test_map_as_the_symbols(tmp_path: Path, kaslr_dump: Path, kallsyms: tuple[int, list]) -> None:
    offset, rows = kallsyms
    plain = write_map(tmp_path / "System.map", rows, tables=False)
    where = {n: a for n, a, _ in rows}
    with open_dump(str(kaslr_dump)) as dump:
        prog = Program(_Dump(dump), None)  # type: ignore[arg-type]
        assert load_system_map(prog, str(plain)) == 0
        assert prog.kallsyms_source == "System.map"
        assert prog.symbol_address("schedule") == where["schedule"] + offset
        assert prog.read_cstring(prog.symbol_address("linux_banner")).startswith(b"Linux version 6.1.0-56")
    wrong = [(n, a + 0x40 if n == "linux_banner" else a, letter) for n, a, letter in rows]
    bad = write_map(tmp_path / "System.map-other", wrong, tables=False)
    with open_dump(str(kaslr_dump)) as dump, pytest.raises(StartupError, match="do not match!"):
        load_system_map(Program(_Dump(dump), None), str(bad))  # type: ignore[arg-type]


def test_cli(tmp_path: Path, kaslr_dump: Path, kallsyms: tuple[int, list]) -> None:
    offset, rows = kallsyms
    good = write_map(tmp_path / "System.map", rows)
    bad = write_map(tmp_path / "System.map-bad", [(n, a + 8 if n == "init_task" else a, t) for n, a, t in rows])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CRASHPY_CACHE": str(tmp_path / "cache")}

    def run(*files: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crashpy", "-s", "--no_crashrc", *map(str, files)],
            input="sym schedule\n", capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip

    ok = run(good, kaslr_dump)
    assert ok.returncode == 0 and ok.stderr == ""
    assert f"{dict((n, a) for n, a, _ in rows)['schedule'] + offset:x}" in ok.stdout
    refused = run(kaslr_dump, bad)
    assert refused.returncode == 1
    assert refused.stderr == f"crashpy: {bad} and {kaslr_dump} do not match!\n"
