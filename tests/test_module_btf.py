"""Module types from the dump's memory (crashpy.module_btf): each loaded module's split BTF, as
kernel/bpf/btf.c keeps it on `btf_modules`, read on the first type look-up the kernel's own types
miss; with the debug vmlinux and without one.

The test dumps' guests load Debian's virtio modules (virtio_net, virtio_blk, virtio_ring, ...: BTF
built with the kernel) and the test's own oracle_crash.ko (built out of tree without BTF, so the
kernel's list has no entry for it). The types below are defined by virtio_net (struct virtnet_info,
send_queue, receive_queue; typedef virtio_net_ctrl_ack) and virtio_ring (typedef vring_desc_t),
never by vmlinux. Where the -dbg module tree is there, what module BTF prints is checked against
what the same module's DWARF prints after `mod -S` (which tests/test_cmd_mod_debuginfo_oracle.py
checks against crash).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from crashpy.errors import AddressSpace, FaultError, FaultKind
from crashpy.loader import open_program
from crashpy.module_btf import ModuleBTF
from crashpy.object import Object, find_type, lookup_type
from crashpy.program import Program
from crashpy.types.btf import BTFFormatError
from tests.crashpy_runner import run_session
from tests.kernel_facts import kernel_paths

ROOT = Path(__file__).resolve().parent.parent
KERNEL = kernel_paths()  # the dump set's paths; builds nothing
VMLINUX = KERNEL.vmlinux
DEBUG_MODULES = KERNEL.kernel_dir / "usr/lib/debug/lib/modules" / KERNEL.krel
DUMPS = ["bug.elf", "null.elf"]  # oracle_crash and the virtio modules loaded
MODULE_ONLY = [("virtnet_info", "struct"), ("send_queue", "struct"), ("virtio_net_ctrl_ack", "typedef")]


def _dump(name: str) -> Path:
    path = KERNEL.root / name
    if not path.is_file():
        pytest.skip(f"{path} not built")
    return path


def _vmlinux() -> Path:
    if not VMLINUX.is_file():
        pytest.skip(f"{VMLINUX} not there")
    return VMLINUX


def _open(name: str, with_vmlinux: bool) -> Program:
    dump = _dump(name)
    return open_program(str(_vmlinux()) if with_vmlinux else None, [str(dump)])


@cache
def _shared(name: str, with_vmlinux: bool) -> Program:
    return _open(name, with_vmlinux)


def _virtnet_info(prog: Program) -> tuple[int, int]:
    """(eth0's struct net_device, its struct virtnet_info: netdev_priv(), at the net_device's size
    rounded up to NETDEV_ALIGN)."""
    o_list = prog.offsetof("net_device", "dev_list")
    head = Object(prog, "struct net", prog.symbol_address("init_net")).member_("dev_base_head")
    node = int(head.next)
    assert head.address_ is not None
    while node != head.address_:
        dev = Object(prog, "struct net_device", node - o_list)
        if dev.name.string_() == b"eth0":
            return node - o_list, node - o_list + (prog.sizeof("net_device") + 31) // 32 * 32
        node = int(Object(prog, "struct list_head", node).next)
    raise AssertionError("no eth0")


# ---------------------------------------------------------------------------------------------------
# Reading


@pytest.mark.parametrize("with_vmlinux", [True, False], ids=["vmlinux", "no-vmlinux"])
@pytest.mark.parametrize("name", DUMPS)
def test_modules_read(name: str, with_vmlinux: bool) -> None:
    """Every loaded module is listed; the virtio modules' BTF decodes over the kernel's, oracle_crash
    (built without BTF) is skipped with its reason."""
    prog = _shared(name, with_vmlinux)
    mods: dict[str, ModuleBTF] = {m.name: m for m in prog.module_btf.modules}
    assert mods["oracle_crash"].btf is None and mods["oracle_crash"].problem == "no BTF"
    for mod in ("virtio_net", "virtio_ring", "virtio_blk", "virtio"):
        entry = mods[mod]
        assert entry.btf is not None, entry.problem
        assert entry.problem == "" and entry.size > 0
        assert entry.btf.base is prog.btf and len(entry.btf) > prog.btf.n_types


@pytest.mark.parametrize("with_vmlinux", [True, False], ids=["vmlinux", "no-vmlinux"])
def test_lazy(with_vmlinux: bool) -> None:
    """Nothing of the modules is read while the kernel's types answer."""
    prog = _open("bug.elf", with_vmlinux)
    # whatis sigval: no struct sigval anywhere, but the kernel's union: no module is read for it.
    cmds = [
        "sys",
        "mod",
        "struct list_head",
        "whatis task_struct",
        "p (long)jiffies",
        "ptype pid_t",
        "whatis sigval",
    ]
    out = run_session(prog, cmds)
    assert "SIZE: 16" in out[2] and out[6].startswith("union sigval {")
    assert not prog.module_btf.loaded
    assert find_type(prog, "task_struct", "struct") is prog.btf.find("task_struct", "struct")
    assert not prog.module_btf.loaded
    assert find_type(prog, "virtnet_info", "struct") is not None
    assert prog.module_btf.loaded


@pytest.mark.parametrize("with_vmlinux", [True, False], ids=["vmlinux", "no-vmlinux"])
def test_kernel_types_first(with_vmlinux: bool) -> None:
    """A type the kernel defines is the kernel's, also when asked of a module's split BTF; the
    module-only types are no kernel type."""
    prog = _shared("bug.elf", with_vmlinux)
    for name, kind in MODULE_ONLY:
        assert prog.btf.find(name, kind) is None
        t = find_type(prog, name, kind)
        assert t is not None and t.name == name
    for name, kind in [
        ("list_head", "struct"),
        ("net_device", "struct"),
        ("u16", "typedef"),
        ("virtqueue", "struct"),
    ]:
        assert find_type(prog, name, kind) is prog.btf.find(name, kind) is not None
    info = find_type(prog, "virtnet_info", "struct")
    assert info is not None
    dev = next(m for m in info.members() if m.name == "dev")
    assert dev.type.target is prog.btf.find("net_device", "struct")  # type: ignore[attr-defined]
    assert str(lookup_type(prog, "struct send_queue *")) == "struct send_queue *"


# ---------------------------------------------------------------------------------------------------
# Commands


def _struct_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines()]


@pytest.mark.parametrize("with_vmlinux", [True, False], ids=["vmlinux", "no-vmlinux"])
@pytest.mark.parametrize("name", DUMPS)
def test_commands(name: str, with_vmlinux: bool) -> None:
    """struct, ptype, whatis and p's casts and sizeof find the module-only types; struct reads one."""
    prog = _shared(name, with_vmlinux)
    dev, info = _virtnet_info(prog)
    cmds = [
        "struct virtnet_info",
        "ptype struct send_queue",
        "whatis struct receive_queue",
        "whatis vring_desc_t",
        "p sizeof(struct virtnet_info)",
        f"struct virtnet_info.dev,max_queue_pairs {info:x}",
        f"p ((struct virtnet_info *){info:#x})->dev",
        "p (virtio_net_ctrl_ack)3",
        "struct virtnet_info -o",
        "struct nosuch_module_type",
    ]
    out = run_session(prog, cmds)
    lines = _struct_lines(out[0])
    assert lines[0] == "struct virtnet_info {"
    assert "struct net_device *dev;" in lines and "struct send_queue *sq;" in lines
    assert lines[-1] == f"SIZE: {find_type(prog, 'virtnet_info', 'struct').size}"  # type: ignore[union-attr]
    assert out[1].startswith("type = struct send_queue {\n") and "struct virtqueue *vq;" in out[1]
    assert out[2].startswith("struct receive_queue {\n") and "SIZE: " in out[2]
    assert out[3].startswith("typedef struct vring_desc {\n") and out[3].endswith(
        "} vring_desc_t;\nSIZE: 16\n"
    )
    assert out[4] == f"$1 = {find_type(prog, 'virtnet_info', 'struct').size}\n"  # type: ignore[union-attr]
    assert out[5] == f"  dev = 0x{dev:x},\n  max_queue_pairs = 1,\n"
    assert out[6] == f"$2 = (struct net_device *) 0x{dev:x}\n"
    assert out[7] == "$3 = 3 '\\003'\n"
    assert "   [16] struct net_device *dev;" in out[8]
    assert out[9] == "struct: invalid data structure reference: nosuch_module_type\n"


@pytest.mark.skipif(not DEBUG_MODULES.is_dir(), reason="no module debuginfo tree")
def test_same_as_module_dwarf() -> None:
    """What module BTF prints is what the module's DWARF prints (mod -S), which is crash's."""
    _, info = _virtnet_info(_shared("bug.elf", True))
    cmds = [
        "struct send_queue",
        "whatis struct virtnet_info",
        "struct receive_queue -o",
        "ptype struct virtio_blk",
        "whatis vring_desc_t",
        "ptype virtio_net_ctrl_ack",
        f"struct virtnet_info {info:x}",
        f"p *((struct virtnet_info *){info:#x})->rq",
        "whatis union virtio_net_ctrl_hdr",
        "struct virtio_pci_device -o",
    ]
    from_btf = run_session(_shared("bug.elf", True), cmds)
    dwarf_prog = _open("bug.elf", True)
    from_dwarf = run_session(dwarf_prog, [f"mod -S {DEBUG_MODULES}", *cmds])
    assert "virtio_net" in from_dwarf[0]
    assert from_btf == from_dwarf[1:]
    # The modules' DWARF answered first: their BTF was asked only for what no one defines as a tag
    # (whatis tries `struct vring_desc_t`, `union ...`, `enum ...` before the typedef).
    assert ("send_queue", "struct") not in dwarf_prog.module_btf._found
    assert ("vring_desc_t", "typedef") not in dwarf_prog.module_btf._found


def test_cli_without_vmlinux() -> None:
    """`crashpy -s <dump>` alone: the module's struct, in a crashpy process of its own."""
    dump = _dump("bug.elf")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run(
        [sys.executable, "-m", "crashpy", "-s", str(dump)],
        input="struct send_queue -o\nwhatis vring_desc_t\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("struct send_queue {\n     [0] struct virtqueue *vq;\n")
    assert "typedef struct vring_desc {" in run.stdout
    assert "Traceback" not in run.stderr


# ---------------------------------------------------------------------------------------------------
# Modules whose BTF cannot be had


def _failing_read(prog: Program, module: str, make: Callable[[int, int], bytes]) -> int:
    """Make prog.read answer `make(address, size)` for `module`'s BTF bytes; their address."""
    from crashpy.module_btf import _kept_copies

    addr, _, struct_module = next(
        (data, size, mod) for mod, (nm, data, size, _start) in _kept_copies(prog).items() if nm == module
    )
    assert struct_module
    real = prog.read

    def read(address: int, size: int, *args: Any, **kwargs: Any) -> bytes:
        if address == addr:
            return make(address, size)
        return real(address, size, *args, **kwargs)

    prog.read = read  # type: ignore[method-assign]
    return addr


def test_unreadable_module_skipped() -> None:
    """A module whose BTF bytes cannot be read is skipped (its reason kept); the others still answer,
    and the user gets crash's answer for an unknown type, no traceback."""
    prog = _open("bug.elf", True)

    def fault(address: int, size: int) -> bytes:
        raise FaultError(address, FaultKind.EXCLUDED, AddressSpace.KVADDR, "module BTF")

    addr = _failing_read(prog, "virtio_net", fault)
    mods = {m.name: m for m in prog.module_btf.modules}
    assert mods["virtio_net"].btf is None
    assert (
        mods["virtio_net"].problem
        == f'BTF unreadable: page excluded: kernel virtual address: {addr:x}  type: "module BTF"'
    )
    assert find_type(prog, "virtnet_info", "struct") is None
    assert find_type(prog, "vring_desc_t", "typedef") is not None  # virtio_ring's
    out = run_session(prog, ["struct virtnet_info", "whatis vring_desc_t", "p sizeof(struct send_queue)"])
    assert out[0] == "struct: invalid data structure reference: virtnet_info\n"
    assert out[1].startswith("typedef struct vring_desc {")
    assert out[2] == "p: gdb request failed: p sizeof(struct send_queue)\n"


def test_corrupt_module_skipped() -> None:
    """A module whose bytes are no BTF is skipped; so is one whose BTF breaks in a look-up."""
    prog = _open("bug.elf", False)
    _failing_read(prog, "virtio_net", lambda address, size: b"\x9f\xeb\x01\x00" + b"\xff" * (size - 4))
    mods = {m.name: m for m in prog.module_btf.modules}
    assert mods["virtio_net"].btf is None and mods["virtio_net"].problem.startswith("BTF does not decode: ")
    assert find_type(prog, "virtnet_info", "struct") is None
    ring = mods["virtio_ring"].btf
    assert ring is not None

    def broken(name: str, kind: str | None = None) -> None:
        raise BTFFormatError("BTF: string offset out of range")

    ring.find = broken  # type: ignore[method-assign]
    assert find_type(prog, "vring_desc_t", "typedef") is None
    assert mods["virtio_ring"].btf is None and mods["virtio_ring"].problem.startswith("BTF does not decode: ")
    assert find_type(prog, "virtio_blk", "struct") is not None
