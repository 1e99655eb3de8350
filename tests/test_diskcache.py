"""crashpy's disk cache (crashpy/diskcache.py): entries written whole, kept under $CRASHPY_CACHE_LIMIT,
the least recently used removed first, nothing outside crashpy's own directories touched."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crashpy import diskcache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path))
    monkeypatch.setenv("CRASHPY_CACHE_LIMIT", "1")  # MiB
    return tmp_path


def _aged(path: Path, seconds_ago: float) -> None:
    t = time.time() - seconds_ago
    os.utime(path, (t, t))


def test_entries_round_trip(cache: Path) -> None:
    path = diskcache.entry("symtab", "some key")
    assert path.parent == cache / "symtab" and path.suffix == ".marshal"
    assert diskcache.entry("symtab", "some key") == path and diskcache.entry("symtab", "other") != path
    assert diskcache.load(path) is None
    diskcache.save(path, ([1, 2], {"a": 3}, b"x"))
    assert diskcache.load(path) == ([1, 2], {"a": 3}, b"x")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_damaged_entry_reads_as_none(cache: Path) -> None:
    path = diskcache.entry("nodebug", "k", prefix="kallsyms-")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\x00 not marshal")
    assert diskcache.load(path) is None


def test_the_least_recently_used_go_first(cache: Path) -> None:
    blob = bytes(400 << 10)
    first, second, third = (diskcache.entry(kind, kind) for kind in ("symtab", "btf-index", "nodebug"))
    diskcache.write_bytes(first, blob)
    diskcache.write_bytes(second, blob)
    _aged(first, 20)
    _aged(second, 10)
    assert diskcache.read_bytes(first) == blob  # used now: the second is the oldest
    diskcache.write_bytes(third, blob)  # 1.2 MiB > 1 MiB: one goes
    assert first.exists() and third.exists() and not second.exists()


def test_the_entry_just_written_stays_and_other_files_are_not_touched(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRASHPY_CACHE_LIMIT", "0")
    dump = cache / "vmcores" / "some.dump"  # the test dumps' builder keeps its work here too
    dump.parent.mkdir(parents=True)
    dump.write_bytes(bytes(1 << 20))
    old = diskcache.entry("dwarf-index", "old", suffix=".json")
    diskcache.write_bytes(old, b"{}")
    new = diskcache.entry("dwarf-index", "new", suffix=".json")
    assert diskcache.write_bytes(new, b"{}")
    assert new.exists() and not old.exists() and dump.exists()


def test_the_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRASHPY_CACHE_LIMIT", "5")
    assert diskcache.limit_bytes() == 5 << 20
    monkeypatch.setenv("CRASHPY_CACHE_LIMIT", "lots")
    assert diskcache.limit_bytes() == diskcache.DEFAULT_LIMIT_MIB << 20
    monkeypatch.delenv("CRASHPY_CACHE_LIMIT")
    assert diskcache.limit_bytes() == diskcache.DEFAULT_LIMIT_MIB << 20


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_cache_costs_only_the_build(cache: Path) -> None:
    (cache / "symtab").mkdir()
    (cache / "symtab").chmod(0o555)
    try:
        path = diskcache.entry("symtab", "k")
        assert diskcache.write_bytes(path, b"data") is False
        assert diskcache.load(path) is None
        assert list((cache / "symtab").iterdir()) == []
    finally:
        (cache / "symtab").chmod(0o755)


def test_a_cache_that_is_a_file_costs_only_the_build(cache: Path) -> None:
    (cache / "symtab").write_bytes(b"not a directory")
    path = diskcache.entry("symtab", "k")
    assert diskcache.write_bytes(path, b"data") is False
    assert diskcache.load(path) is None


def test_a_session_without_the_vmlinux_within_a_small_limit(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                            dumps: dict[str, Path]) -> None:
    """A limit smaller than one entry keeps the last written only; the next session rebuilds the rest
    and answers the same, and the one after reads all of them back."""
    from crashpy.loader import open_program

    def session() -> str:
        prog = open_program(None, [str(dumps["sysrq.d31.zlib"])])
        try:
            import io

            from crashpy.session import Session

            out = io.StringIO()
            s = Session(prog, out)
            for line in ("sym schedule", "bt", "whatis struct task_struct"):
                s.run_line(line)
            return out.getvalue()
        finally:
            prog.close()

    monkeypatch.setenv("CRASHPY_CACHE_LIMIT", "0")
    first = session()
    assert len(list((cache / "nodebug").iterdir())) == 1  # each write removed the one before
    monkeypatch.setenv("CRASHPY_CACHE_LIMIT", "1024")
    assert session() == first
    assert len(list((cache / "nodebug").iterdir())) == 3  # kallsyms, their symbol view, the BTF index
    assert session() == first  # all three read back
