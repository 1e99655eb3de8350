"""Shared fixtures: the real test dumps (built and cached by tools/vmcores.py) and the oracle crash."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def dumps() -> dict[str, Path]:
    """Every test dump the builder makes, by name, plus "vmlinux"."""
    from tools.vmcores import ensure

    return ensure()


@pytest.fixture(scope="session")
def vmlinux(dumps: dict[str, Path]) -> Path:
    return dumps["vmlinux"]


@pytest.fixture(scope="session")
def crash_bin() -> Path:
    from tests.oracle import crash_binary

    return crash_binary()
