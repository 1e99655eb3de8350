"""System.map given on the command line: checked against the vmlinux; without one, checked against the
dump's kallsyms, or the way to the kallsyms tables of a kernel whose VMCOREINFO does not name them, or
the symbol table itself when kallsyms cannot be decoded."""

from __future__ import annotations

from crashpy.bits import MASK64
from crashpy.errors import CrashpyError, StartupError
from crashpy.program import Program

# Symbols every x86_64 kernel has, at addresses that differ between any two builds.
ANCHORS = ("_stext", "_etext", "_sdata", "_edata", "__bss_start", "_end", "linux_banner", "init_task")
_KERNEL_IMAGE_BASE = 0xFFFFFFFF80000000


def read_system_map(path: str) -> list[tuple[str, int, str]]:
    """(name, link-time address, nm letter) for every line of a System.map."""
    out: list[tuple[str, int, str]] = []
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue
                try:
                    addr = int(parts[0], 16)
                except ValueError:
                    continue
                out.append((parts[2], addr, parts[1]))
    except OSError as e:
        raise StartupError(f"{path}: {e.strerror}") from None
    if not out:
        raise StartupError(f"{path}: not a System.map file")
    return out


def check_system_map(prog: Program, path: str) -> int:
    """Refuse a System.map that is not the vmlinux's; returns how many anchor symbols agreed."""
    entries = {name: addr for name, addr, _letter in read_system_map(path)}
    agreed = 0
    for name in ANCHORS:
        sym = prog.symbols.lookup(name)
        if name not in entries or sym is None:
            continue
        if sym.address - prog.kaslr_offset != entries[name]:
            raise StartupError(f"{path} and {prog.vmlinux_path} do not match!")
        agreed += 1
    if not agreed:
        raise StartupError(f"{path} and {prog.vmlinux_path} have no symbols in common")
    return agreed


def relocated(prog: Program, entries: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    """The System.map's rows with the kernel image's addresses moved by the KASLR offset (per-CPU and
    other absolute values stay)."""
    offset = prog.kaslr_offset
    if not offset:
        return entries
    return [
        (name, (addr + offset) & MASK64 if addr >= _KERNEL_IMAGE_BASE else addr, letter)
        for name, addr, letter in entries
    ]


def load_system_map(prog: Program, path: str) -> int:
    """Hand a System.map to a Program without a vmlinux and check it: against the dump's kallsyms when
    that decodes (the anchor symbols must lie where the map says, after KASLR); when kallsyms cannot be
    found from VMCOREINFO (before 6.0) the map names its tables; when it cannot be decoded at all, the
    map's own lines are the symbols, and linux_banner must be where the map puts it.  Returns how many
    anchors agreed (0 when the map is the symbol table)."""
    entries = relocated(prog, read_system_map(path))
    prog.use_system_map(entries)
    mismatch = StartupError(f"{path} and {prog.dump_path} do not match!")
    try:
        ks = prog.kallsyms
    except CrashpyError as e:
        raise StartupError(f"{path}: no kernel symbols: {e}") from None
    if prog.kallsyms_source == "System.map":
        banner = next((addr for name, addr, _letter in entries if name == "linux_banner"), None)
        if banner is not None:
            try:
                text = prog.read_image(banner, 14)
            except CrashpyError:
                return 0  # the page is not in the dump: nothing to check it against
            if text != b"Linux version ":
                raise mismatch
        return 0
    mapped = {name: addr for name, addr, _letter in entries}
    known = dict(zip(ks.names, ks.addresses, strict=True))
    agreed = 0
    for name in ANCHORS:
        if name not in mapped or name not in known:
            continue
        if mapped[name] != known[name]:
            raise mismatch
        agreed += 1
    if not agreed:
        raise StartupError(f"{path} and {prog.dump_path} have no symbols in common")
    return agreed
