"""docs/python-api.md's examples run, in order and in one namespace, against the test dump sysrq.elf.

The examples open "vmlinux" and "vmcore" as a user would: the test runs them in a directory where
those names are links to the test kernel's debug vmlinux and to sysrq.elf.  Each block's asserts
are the documented results.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.kernel_facts import release as kernel_release

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "python-api.md"
DOCUMENTED_RELEASE = re.compile(r"\b6\.1\.0-\d+-cloud-amd64\b")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block."""
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1)))
    return blocks


def test_the_page_has_examples() -> None:
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 10
    assert len(DOCUMENTED_RELEASE.findall(DOC.read_text())) >= 3  # what test_examples_run replaces
    assert 'crashpy.open("vmlinux", "vmcore")' in blocks[0][1]


def test_examples_run(tmp_path: Path, dumps: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vmlinux").symlink_to(dumps["vmlinux"])
    (tmp_path / "vmcore").symlink_to(dumps["sysrq.elf"])
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for line, code in python_blocks(DOC.read_text()):
        # The page shows the release of the kernel it was written with; the test dumps come from
        # whichever 6.1 cloud kernel tools/vmcores.py builds today.
        code = DOCUMENTED_RELEASE.sub(kernel_release(), code)
        compiled = compile(code, f"{DOC.name}:{line}", "exec")
        try:
            exec(compiled, namespace)
        except Exception as e:
            raise AssertionError(f"the example at docs/python-api.md line {line} failed: {e!r}") from e
    assert os.getcwd() == str(tmp_path)
