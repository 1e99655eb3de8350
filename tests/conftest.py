"""Shared fixtures: the real test dumps (built and cached by tools/vmcores.py) and the oracle crash.

Before anything is collected, the session builds (or finds cached) every test dump and crash 8.0.6,
so that no test skips for want of them; a build failure fails the run.  Then crash starts working
through the recorded oracle plan in the background (tests/oracle_prefetch.py); CRASHPY_ORACLE_RECORD=1
rewrites that plan from what the run asked crash for.  Set CRASHPY_NO_BUILD=1 to
skip that step (the tests that need a dump or the oracle then skip or build on demand).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The crashpy processes the tests start compile its modules once, not each at its start-up (0.15 s)
# as they would on a machine that sets PYTHONDONTWRITEBYTECODE.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CRASHPY_NO_BUILD"):
        return
    sys.path.insert(0, str(ROOT))
    from tests.oracle import crash_binary
    from tools.vmcores import ensure

    # crash's build (about 11 minutes on 2 cores) and the dumps' (about 5) overlap.
    built: list[Path] = []
    failed: list[BaseException] = []

    def build_oracle() -> None:
        try:
            built.append(crash_binary())
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread below
            failed.append(e)

    oracle_thread = threading.Thread(target=build_oracle, name="oracle-build")
    oracle_thread.start()
    try:
        paths = ensure()
    finally:
        oracle_thread.join()
    if failed:
        raise failed[0]
    binary = built[0]
    from tests.oracle_prefetch import start

    start(binary, paths["vmlinux"], paths["sysrq.elf"].parent)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import oracle

    prefetcher = oracle.prefetcher
    if prefetcher is not None:
        prefetcher.stop()  # type: ignore[attr-defined]
    if os.environ.get("CRASHPY_ORACLE_RECORD") and not os.environ.get("CRASHPY_NO_BUILD"):
        from tests.oracle_prefetch import write_plan
        from tools.vmcores import ensure

        count = write_plan(ensure(["sysrq.elf"])["sysrq.elf"].parent)
        print(f"\noracle plan: {count} sessions written to tests/oracle_plan.json")


@pytest.fixture(scope="session")
def dumps() -> dict[str, Path]:
    """Every test dump the builder makes, by name, plus "vmlinux"."""
    from tools.vmcores import ensure

    return ensure()


@pytest.fixture(scope="session")
def split_parts(dumps: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """sysrq.d31.elf split in two by makedumpfile --split (about 20 s), made once per run."""
    from tools.fuzz import split_parts as make_parts

    parts = make_parts(dumps["sysrq.d31.elf"], dumps["vmlinux"], tmp_path_factory.mktemp("split"))
    if not parts:
        pytest.skip("makedumpfile is not installed")
    return list(parts.values())


@pytest.fixture(scope="session")
def vmlinux(dumps: dict[str, Path]) -> Path:
    return dumps["vmlinux"]


@pytest.fixture(scope="session")
def crash_bin() -> Path:
    from tests.oracle import crash_binary

    return crash_binary()


@pytest.fixture(scope="session")
def paths(dumps: dict[str, Path]) -> dict[str, Path]:
    """The same as `dumps` (the name the oracle tests use)."""
    return dumps
