"""crashpy installs from wheels alone (no compiler, no C headers) and, so installed, reads an lzo dump.

In a fresh virtual environment: crashpy's own wheel (built from this tree, pure Python) and every
runtime dependency with `pip install --only-binary :all:`; then the installed `crashpy` opens the
makedumpfile -l (lzo) dump and answers `sys` and `log` as the development tree does.  Needs the
package registry (as .ci/run's own pip install does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.crashpy_runner import run_crashpy

ROOT = Path(__file__).resolve().parent.parent


def test_wheels_only_install_reads_an_lzo_dump(tmp_path: Path, dumps: dict[str, Path]) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    wheels = tmp_path / "wheels"
    # A wheel of crashpy itself (pure Python: setuptools, fetched into an isolated build, packs it),
    # built from a copy so that nothing is written into the tree.
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(tree)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("crashpy-*.whl")
    env = {**os.environ, "CC": "/bin/false", "CXX": "/bin/false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--only-binary", ":all:", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The C-extension LZO binding of old (python-lzo, built from source) is not there.
    probe = subprocess.run([str(python), "-c", "import lzo"], capture_output=True, env=env, timeout=60)
    assert probe.returncode != 0
    vmlinux, dump = dumps["vmlinux"], dumps["sysrq.d31.lzo"]
    proc = subprocess.run(
        [str(venv / "bin" / "crashpy"), "-s", str(vmlinux), str(dump)],
        input="sys\nlog\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    sys_text, log_text = run_crashpy(vmlinux, dump, ["sys", "log"])
    assert proc.stdout == sys_text + log_text
    assert "sysrq triggered crash" in proc.stdout
