"""crashpy: the Linux crash utility rebuilt in Python.

    import crashpy
    prog = crashpy.open("vmlinux", "vmcore")
    print(prog.run("sys"))

`crashpy.open` returns a `crashpy.Kernel` (crashpy/api.py; docs/python-api.md describes it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.version import __version__ as __version__

if TYPE_CHECKING:
    from crashpy.api import Kernel, SymbolAt, Task
    from crashpy.errors import CommandError, CrashpyError, FaultError
    from crashpy.object import Object, ObjectError


def open(  # noqa: A001
    vmlinux: str | None, vmcore: str, *, kaslr: int | str | None = None, check: bool = True
) -> Kernel:
    """Open `vmcore` with its debug `vmlinux` and return a Kernel (a Program with the scripting API)."""
    from crashpy.api import open as api_open

    return api_open(vmlinux, vmcore, kaslr=kaslr, check=check)


_LAZY = {
    "Kernel": "crashpy.api",
    "SymbolAt": "crashpy.api",
    "Task": "crashpy.api",
    "run_script": "crashpy.api",
    "Object": "crashpy.object",
    "ObjectError": "crashpy.object",
    "CrashpyError": "crashpy.errors",
    "CommandError": "crashpy.errors",
    "FaultError": "crashpy.errors",
}


def __getattr__(name: str) -> Any:
    """The API's names, imported when first used (`import crashpy` stays cheap for the command line)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crashpy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "CommandError",
    "CrashpyError",
    "FaultError",
    "Kernel",
    "Object",
    "ObjectError",
    "SymbolAt",
    "Task",
    "open",
    "run_script",
]
