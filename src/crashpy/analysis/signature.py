"""A crash's signature: the same bug gives the same key on every machine and kernel build.

The key is made of the kind of failure, the culprit function (and its module) and the chain of its
callers, names only: no offsets, addresses, pids or times, and compiler suffixes (`.cold`,
`.isra.0`, `.constprop.0`, `.part.0`) taken off, since those change from build to build.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crashpy.analysis.autopsy import Culprit
    from crashpy.unwind.records import Frame

_SUFFIX = re.compile(r"(\.(cold|isra|constprop|part|lto_priv|llvm)(\.\d+)?)+$")
# Where a call chain stops: the entry from user space, a new kernel thread, an interrupt.
_ENTRY_PREFIXES = ("entry_SYSCALL", "do_syscall_", "ret_from_fork", "asm_", "kthread", "worker_thread",
                   "smpboot_thread_fn", "start_kernel", "secondary_startup", "cpu_startup_entry")
CHAIN_LENGTH = 6


def plain_name(function: str) -> str:
    """A function's name without the compiler's clone suffixes."""
    return _SUFFIX.sub("", function)


def call_chain(callers: list[Frame]) -> list[str]:
    """The culprit's callers for the signature: plain names, innermost first, up to the first entry
    point (the system call, kthread or interrupt entry is left out), at most CHAIN_LENGTH of them."""
    chain: list[str] = []
    for frame in callers:
        if frame.function.startswith(_ENTRY_PREFIXES):
            break
        name = plain_name(frame.function)
        if chain and chain[-1] == name:
            continue  # recursion, or crash's repeated first frame
        chain.append(name)
        if len(chain) == CHAIN_LENGTH:
            break
    return chain


def signature(kind: str, culprit: Culprit | None, chain: list[str]) -> tuple[str, str]:
    """(the readable key, its 16-hex-digit hash)."""
    where = "?"
    if culprit is not None:
        where = plain_name(culprit.function) + (f" [{culprit.module}]" if culprit.module else "")
    text = f"{kind}|{where}|{' < '.join(chain)}"
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]
