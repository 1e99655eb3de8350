#!/usr/bin/env python3
"""Build and cache crashpy's real test crash dumps (recipe: shared/VMCORES.md).

    python3 tools/vmcores.py [--cache DIR] [--list] [names...]
    from tools.vmcores import ensure; paths = ensure(["sysrq.elf"])

Everything lands in ``<cache>/vmcores/<KREL>/`` (cache: ``$CRASHPY_CACHE`` or ``~/.cache/crashpy``;
KREL: ``$CRASHPY_KREL`` or the constant below): Debian's cloud kernel with its debug vmlinux, the
``oracle_crash`` trigger module (tools/trigger/), an initramfs, and dumps of a QEMU (TCG) guest
crashed in several ways, plus makedumpfile-filtered and truncated copies. Each file is written
under a temporary name and renamed when complete, so a file with its final name is finished; a lock
file keeps two processes from building at once. With everything present, ``ensure`` only stats files.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

KREL = "6.1.0-56-cloud-amd64"

# Bump when the recipe changes in a way that should rebuild the module, initramfs and dumps
# (the trigger sources and the guest's /init are hashed in automatically).
RECIPE_VERSION = 4

TRIGGER_SRC = Path(__file__).resolve().parent / "trigger"
SPAWN_SRC = Path(__file__).resolve().parent / "guest" / "spawn.c"
GUEST_MODULES = ("virtio_pci", "virtio_net", "virtio_blk", "qemu_fw_cfg")
BOOT_TIMEOUT = 180.0  # seconds from QEMU start to "Kernel panic" on the console
DUMP_TIMEOUT = 120.0  # seconds for one dump-guest-memory
TRUNCATE_PERCENT = 40


@dataclass(frozen=True)
class GuestRun:
    """One boot of the guest, crashed one way, dumped by QEMU."""

    name: str
    oracle: str  # the guest's oracle= parameter: sysrq, oom or a word of tools/trigger/oracle_crash.c
    kaslr: bool
    qemu_kdump: bool  # also take QEMU's kdump-zlib (flattened) dump of the same run
    la57: bool = False  # a CPU with 5-level paging (-cpu max,+la57): the kernel turns LA57 on
    memory_mb: int = 512
    cpus: int = 2
    numa_nodes: int = 1  # >1: memory and CPUs split evenly over that many NUMA nodes
    tasks: int = 0  # extra sleeping tasks (processes of 4 threads) started by tools/guest/spawn.c
    keep_elf: bool = True  # False: only makedumpfile forms are kept (the ELF is several GB)
    swap_mb: int = 0  # >0: a virtio disk of that size, used as the guest's swap device
    hog_mb: int = 0  # >0: a process touches that much anonymous memory before the crash


# Guest runs kept only as makedumpfile -d 31 dumps, one per kind of failure (see oracle_crash.c; oom
# is the guest's /init filling memory with panic_on_oom set).
AUTOPSY_KINDS = ("warn", "softlockup", "hung", "list", "gpf", "stack", "oom")

RUNS = {
    run.name: run
    for run in (
        GuestRun("sysrq", "sysrq", kaslr=False, qemu_kdump=True),
        GuestRun("kaslr", "sysrq", kaslr=True, qemu_kdump=False),
        GuestRun("bug", "bug", kaslr=False, qemu_kdump=False),
        GuestRun("null", "null", kaslr=False, qemu_kdump=False),
        GuestRun("panic", "panic", kaslr=False, qemu_kdump=False),
        GuestRun("nmi", "nmi", kaslr=False, qemu_kdump=False),
        # 5-level paging (Intel from Ice Lake on): every kernel region moves, KASLR on.
        GuestRun("la57", "sysrq", kaslr=True, qemu_kdump=False, la57=True),
        GuestRun("la57bug", "bug", kaslr=True, qemu_kdump=False, la57=True),
        # A bigger machine: 3 GB on 2 NUMA nodes, 4 CPUs, about 2,000 sleeping tasks.
        GuestRun(
            "scale",
            "sysrq",
            kaslr=False,
            qemu_kdump=False,
            memory_mb=3072,
            cpus=4,
            numa_nodes=2,
            tasks=2000,
            keep_elf=False,
        ),
        # Swap in use: 256 MB of RAM, a 512 MB swap disk, and a process holding 320 MB, so that
        # part of it (and of the other tasks) has been swapped out when the machine crashes.
        GuestRun("swap", "sysrq", kaslr=False, qemu_kdump=False, memory_mb=256, swap_mb=512, hog_mb=320),
        # More kinds of failure for autopsy, each kept only as a small -d 31 dump of a 256 MB guest.
        *(
            GuestRun(kind, kind, kaslr=True, qemu_kdump=False, memory_mb=256, keep_elf=False)
            for kind in AUTOPSY_KINDS
        ),
    )
}

# makedumpfile outputs: name -> options (-F writes to stdout); the source is the name's run's ELF.
MAKEDUMPFILE_FORMS = {
    "sysrq.d31.zlib": ["-c", "-d", "31"],
    "sysrq.d31.lzo": ["-l", "-d", "31"],
    "sysrq.d31.flat": ["-F", "-c", "-d", "31"],
    "sysrq.d31.elf": ["-E", "-d", "31"],
    "la57.d31.zlib": ["-c", "-d", "31"],
    "la57bug.d31.zlib": ["-c", "-d", "31"],
    "scale.d31.zlib": ["-c", "-d", "31"],
    **{f"{kind}.d31.zlib": ["-c", "-d", "31"] for kind in AUTOPSY_KINDS},
}
MAKEDUMPFILE_JOBS = 2  # one per core; each takes 15-20 s on sysrq.elf
# makedumpfile's progress and success lines, not worth repeating.
MAKEDUMPFILE_CHATTER = (
    "Copying data",
    "Excluding",
    "Checking for",
    "The dumpfile is saved to",
    "makedumpfile Completed",
)
TRUNCATED = {"sysrq.elf.trunc40": "sysrq.elf", "sysrq.d31.zlib.trunc40": "sysrq.d31.zlib"}

DUMP_NAMES: tuple[str, ...] = (
    "sysrq.elf",
    "sysrq.qemu-kdump",
    *MAKEDUMPFILE_FORMS,
    *TRUNCATED,
    "kaslr.elf",
    "bug.elf",
    "null.elf",
    "panic.elf",
    "nmi.elf",
    "la57.elf",
    "la57bug.elf",
    "swap.elf",
)
KERNEL_NAMES: tuple[str, ...] = ("vmlinux", "vmlinuz", "modules_dir")
MODULE_NAME = "oracle_crash.ko"
ALL_NAMES: tuple[str, ...] = (*DUMP_NAMES, *KERNEL_NAMES, MODULE_NAME)

# The guest's /init (busybox sh). @MODULES@ is replaced by insmod lines in dependency order.
INIT_SCRIPT = r"""#!/bin/sh
# crashpy test guest: start a few user tasks, then crash the way oracle= on the command line says.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
exec </dev/console >/dev/console 2>&1
@MODULES@
ip link set lo up
ip link set eth0 up 2>/dev/null
sleep 1000 &
while :; do :; done &
(exec 3</proc/version 4</proc/cmdline; exec sleep 1000) &
nc -l -p 1234 &
sleep 1
oracle=sysrq
for word in $(cat /proc/cmdline); do
    case "$word" in oracle=*) oracle="${word#oracle=}" ;; esac
done
tasks=0
for word in $(cat /proc/cmdline); do
    case "$word" in oracle_tasks=*) tasks="${word#oracle_tasks=}" ;; esac
done
[ "$tasks" -gt 0 ] && /bin/spawn "$tasks" 4
for word in $(cat /proc/cmdline); do
    case "$word" in oracle_swap=1) mkswap /dev/vda >/dev/null && swapon /dev/vda && echo "oracle: swap on" ;; esac
done
for word in $(cat /proc/cmdline); do
    case "$word" in oracle_hog=*) /bin/spawn hog "${word#oracle_hog=}" ;; esac
done
# the kernel settings that turn a warning, a lockup, a hung task or an OOM into a panic
case "$oracle" in
    warn) echo 1 > /proc/sys/kernel/panic_on_warn ;;
    softlockup) echo 1 > /proc/sys/kernel/watchdog_thresh; echo 1 > /proc/sys/kernel/softlockup_panic ;;
    hung) echo 2 > /proc/sys/kernel/hung_task_timeout_secs; echo 1 > /proc/sys/kernel/hung_task_panic ;;
    oom) echo 1 > /proc/sys/vm/overcommit_memory; echo 1 > /proc/sys/vm/panic_on_oom ;;
esac
echo "oracle: tasks started, crashing by $oracle"
# let the console drain the line before the crash's own messages start
sleep 1
case "$oracle" in
    sysrq) echo c > /proc/sysrq-trigger ;;
    oom) /bin/spawn hog 1024 ;;
    *) echo "$oracle" > /sys/kernel/debug/oracle_crash/trigger ;;
esac
# the watchdogs (soft lockup, hung task) panic a few seconds after their trigger returns
sleep 30
echo "oracle: still alive after the crash trigger '$oracle'"
poweroff -f
"""


class BuildError(RuntimeError):
    """A step of the dump build failed; the message says which and why."""


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"vmcores [{time.monotonic() - _STARTED:5.0f} s]: {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    """The crashpy cache: $CRASHPY_CACHE or ~/.cache/crashpy."""
    env = os.environ.get("CRASHPY_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "crashpy"


KREL_PATTERN = re.compile(r"^linux-image-(6\.1\.0-(\d+)-cloud-amd64)-dbg$")


def _apt_has(package: str) -> bool:
    """Whether apt can download `package` (it has a candidate version in the package lists)."""
    try:
        out = subprocess.run(
            ["apt-cache", "policy", package], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.strip().startswith("Candidate:") and "(none)" not in line for line in out.splitlines())


def _release_available(krel: str) -> bool:
    return all(
        _apt_has(f"{name}-{krel}{suffix}")
        for name, suffix in (("linux-image", ""), ("linux-image", "-dbg"), ("linux-headers", ""))
    )


def newest_release() -> str | None:
    """The newest Debian 6.1 cloud kernel release whose image, -dbg and headers apt can download."""
    try:
        names = subprocess.run(
            ["apt-cache", "pkgnames", "linux-image-6.1.0-"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = sorted(((int(m.group(2)), m.group(1)) for m in map(KREL_PATTERN.match, names) if m), reverse=True)
    return next((krel for _abi, krel in found if _release_available(krel)), None)


_chosen: list[str] = []


def kernel_release() -> str:
    """$CRASHPY_KREL; else the pinned KREL when its kernel is already cached or apt still has it; else
    the newest 6.1 cloud kernel apt has (Debian's archive keeps only recent kernel ABIs)."""
    env = os.environ.get("CRASHPY_KREL")
    if env:
        return env
    if not _chosen:
        pinned_cached = (cache_root() / "vmcores" / KREL / "kernel").is_dir()
        if pinned_cached or _release_available(KREL):
            _chosen.append(KREL)
        else:
            _chosen.append(newest_release() or KREL)
    return _chosen[0]


def recipe_digest() -> str:
    """Identifies what the module, initramfs and dumps are built from."""
    digest = hashlib.sha256(f"recipe {RECIPE_VERSION}\n".encode())
    for path in sorted(TRIGGER_SRC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(INIT_SCRIPT.encode())
    digest.update(SPAWN_SRC.read_bytes())
    return digest.hexdigest()


def _run(cmd: list[str], what: str, *, cwd: Path | None = None) -> str:
    """Run a command; return its output (stdout and stderr), or raise BuildError saying what failed."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    text = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{text.strip()}")
    return text


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:])


def _set_pdeathsig() -> None:
    """In the child: get SIGKILL when the builder dies, so no QEMU outlives an interrupted build."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


class Builder:
    """Builds the files of one kernel release's dump set in ``<cache>/vmcores/<krel>/``."""

    def __init__(self, cache: Path | None = None, krel: str | None = None) -> None:
        self.krel = krel or kernel_release()
        self.root = (cache or cache_root()) / "vmcores" / self.krel
        kernel = self.root / "kernel"
        self.kernel_dir = kernel
        self.vmlinuz = kernel / "boot" / f"vmlinuz-{self.krel}"
        self.vmlinux = kernel / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{self.krel}"
        self.modules_dir = kernel / "lib" / "modules" / self.krel
        self.module = self.root / MODULE_NAME
        self.initramfs = self.root / "initramfs.cpio.gz"
        self.stamp = self.root / "recipe.sha256"

    # ---- names and paths ----

    def path(self, name: str) -> Path:
        """The final path of a named output (see ALL_NAMES) or of a run's console log."""
        if name == "vmlinux":
            return self.vmlinux
        if name == "vmlinuz":
            return self.vmlinuz
        if name == "modules_dir":
            return self.modules_dir
        if name == MODULE_NAME:
            return self.module
        if name in DUMP_NAMES or (name.endswith(".console") and name[: -len(".console")] in RUNS):
            return self.root / name
        raise KeyError(name)

    @staticmethod
    def run_of(name: str) -> str | None:
        """The guest run whose dump a named output is, or is made from."""
        run = name.split(".", 1)[0]
        return run if name in DUMP_NAMES and run in RUNS else None

    def outputs(self, names: Iterable[str]) -> dict[str, Path]:
        result = {name: self.path(name) for name in names}
        for name in list(result):
            run = self.run_of(name)
            if run is not None:
                result[f"{run}.console"] = self.path(f"{run}.console")
        for name in (*KERNEL_NAMES, MODULE_NAME):
            result[name] = self.path(name)
        return result

    def _complete(self, paths: Iterable[Path]) -> bool:
        if not all(p.exists() for p in paths):
            return False
        try:
            return self.stamp.read_text().strip() == recipe_digest()
        except OSError:
            return False

    # ---- entry point ----

    def ensure(self, names: Iterable[str] | None = None) -> dict[str, Path]:
        wanted = list(ALL_NAMES if names is None else [names] if isinstance(names, str) else names)
        unknown = [n for n in wanted if n not in ALL_NAMES]
        if unknown:
            raise ValueError(f"unknown vmcore name(s) {unknown}; known: {', '.join(ALL_NAMES)}")
        result = self.outputs(wanted)
        if self._complete(result.values()):
            return result
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._check_recipe()
            # Derived forms last, so that all the makedumpfile runs can go in parallel.
            for name in sorted(wanted, key=lambda n: (n in MAKEDUMPFILE_FORMS) + 2 * (n in TRUNCATED)):
                if name in MAKEDUMPFILE_FORMS:  # all of them at once
                    self._makedumpfiles(wanted)
                else:
                    self._build(name)
        return result

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log(f"waiting for another process building in {self.root}")
                fcntl.flock(lock, fcntl.LOCK_EX)
            # We hold the lock: temporaries left here belong to interrupted builds.
            for leftover in self.root.glob("*.tmp-*"):
                log(f"removing leftover {leftover.name}")
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
            yield

    def _check_recipe(self) -> None:
        """Drop the built module, initramfs and dumps if they were made from another recipe."""
        digest = recipe_digest()
        try:
            if self.stamp.read_text().strip() == digest:
                return
        except OSError:
            pass
        ours = {*DUMP_NAMES, MODULE_NAME, self.initramfs.name}
        ours |= {f"{run}.{suffix}" for run in RUNS for suffix in ("console", "elf")}
        stale = [p for p in self.root.iterdir() if p.name in ours or p.name == "build-oracle_crash"]
        if stale:
            log(f"recipe changed: removing {len(stale)} built files (the kernel stays)")
        for path in stale:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        self._commit_text(self.stamp, digest + "\n")

    def _tmp(self, final: Path) -> Path:
        return final.with_name(f"{final.name}.tmp-{os.getpid()}")

    def _commit_text(self, final: Path, text: str) -> None:
        tmp = self._tmp(final)
        tmp.write_text(text)
        os.replace(tmp, final)

    def _build(self, name: str) -> None:
        if name in KERNEL_NAMES:
            self._kernel()
        elif name == MODULE_NAME:
            self._module()
        elif name in MAKEDUMPFILE_FORMS:
            self._makedumpfiles([name])
        elif name in TRUNCATED:
            self._truncated(name)
        else:
            run = self.run_of(name)
            assert run is not None, name
            self._guest(RUNS[run])

    # ---- step 1: the kernel ----

    def _kernel(self) -> None:
        if self.kernel_dir.is_dir():
            return
        packages = [f"linux-image-{self.krel}", f"linux-image-{self.krel}-dbg"]
        tmp = self._tmp(self.kernel_dir)
        with tempfile.TemporaryDirectory(prefix="crashpy-debs-") as debs:
            log(f"downloading {' '.join(packages)} (about 310 MB)")
            for attempt in range(3):  # the oracle's build may be updating apt's lists meanwhile
                try:
                    _run(["apt-get", "download", *packages], "apt-get download", cwd=Path(debs))
                    break
                except BuildError as err:
                    if attempt == 2:
                        raise BuildError(
                            f"{err}\n(if apt's package lists are missing or stale, run `apt-get update` first)"
                        ) from None
                    time.sleep(10)
            for deb in sorted(Path(debs).glob("*.deb")):
                log(f"unpacking {deb.name}")
                _run(["dpkg", "-x", str(deb), str(tmp)], "dpkg -x")
        modules = tmp / "lib" / "modules" / self.krel
        usr_modules = tmp / "usr" / "lib" / "modules" / self.krel
        if not modules.is_dir() and usr_modules.is_dir():  # a usr-merged package
            modules.parent.mkdir(parents=True, exist_ok=True)
            modules.symlink_to(Path("..", "..", "usr", "lib", "modules", self.krel))
        for need in (
            tmp / "boot" / f"vmlinuz-{self.krel}",
            tmp / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{self.krel}",
            modules,
        ):
            if not need.exists():
                raise BuildError(f"the kernel packages lack {need.relative_to(tmp)}")
        _run(["depmod", "-b", str(tmp), self.krel], "depmod")
        os.replace(tmp, self.kernel_dir)

    def module_order(self, modules: Iterable[str]) -> list[Path]:
        """The .ko files to insmod, dependencies first, for the named modules."""
        order: list[Path] = []
        for module in modules:
            out = _run(
                ["modprobe", "-d", str(self.kernel_dir), "-S", self.krel, "--show-depends", module],
                f"modprobe --show-depends {module}",
            )
            for line in out.splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == "insmod":
                    path = Path(words[1])
                    if path not in order:
                        order.append(path)
        return order

    # ---- step 2: the trigger module ----

    def _module(self) -> None:
        if self.module.exists():
            return
        headers = Path("/usr/src") / f"linux-headers-{self.krel}"
        if not headers.is_dir():
            raise BuildError(f"{headers} is missing: apt-get install linux-headers-{self.krel}")
        build = self.root / "build-oracle_crash"
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir()
        for src in TRIGGER_SRC.iterdir():
            if src.is_file():
                shutil.copy2(src, build / src.name)
        log("building the oracle_crash module")
        _run(["make", "-C", str(headers), f"M={build}", "modules"], "building oracle_crash.ko")
        tmp = self._tmp(self.module)
        shutil.copy2(build / MODULE_NAME, tmp)
        os.replace(tmp, self.module)

    # ---- step 3: the initramfs ----

    def _initramfs(self) -> None:
        if self.initramfs.exists():
            return
        self._kernel()
        self._module()
        log("making the initramfs")
        busybox = shutil.which("busybox") or "/bin/busybox"
        applets = _run([busybox, "--list-full"], "busybox --list-full").split()
        if not applets:
            raise BuildError(f"{busybox} lists no applets: apt-get install busybox-static")
        cpio = CpioWriter()
        for directory in "bin sbin usr usr/bin usr/sbin dev proc sys tmp root lib lib/modules".split():
            cpio.directory(directory)
        cpio.char_device("dev/console", 0o600, 5, 1)
        cpio.char_device("dev/null", 0o666, 1, 3)
        cpio.file("bin/busybox", 0o755, Path(busybox).read_bytes())
        for applet in applets:
            if applet != "bin/busybox":
                cpio.symlink(applet, "/bin/busybox")
        insmods: list[str] = []
        for ko in self.module_order(GUEST_MODULES):
            name = _decompressed_name(ko.name)
            cpio.file(f"lib/modules/{name}", 0o644, _read_module(ko))
            insmods.append(f"insmod /lib/modules/{name}")
        cpio.file(f"lib/modules/{MODULE_NAME}", 0o644, self.module.read_bytes())
        cpio.file("bin/spawn", 0o755, self._spawn())
        insmods.append(f"insmod /lib/modules/{MODULE_NAME}")
        cpio.file("init", 0o755, INIT_SCRIPT.replace("@MODULES@", "\n".join(insmods)).encode())
        tmp = self._tmp(self.initramfs)
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            gz.write(cpio.finish())
        os.replace(tmp, self.initramfs)

    def _spawn(self) -> bytes:
        """tools/guest/spawn.c built statically for the guest (it has no C library of its own)."""
        with tempfile.TemporaryDirectory(prefix="crashpy-spawn-") as work:
            binary = Path(work) / "spawn"
            _run(
                ["gcc", "-static", "-O2", "-pthread", "-o", str(binary), str(SPAWN_SRC)],
                "building the guest's spawn helper (needs gcc and libc6-dev)",
            )
            return binary.read_bytes()

    # ---- step 4: boot, crash, dump ----

    def _guest_done(self, run: GuestRun) -> bool:
        """The run's outputs exist: its ELF, or for a run that keeps no ELF, every form made of it."""
        if not run.keep_elf and (self.root / f"{run.name}.console").exists():
            forms = [self.root / n for n in MAKEDUMPFILE_FORMS if self.run_of(n) == run.name]
            if forms and all(p.exists() for p in forms):
                return True
        outputs = [self.root / f"{run.name}.elf", self.root / f"{run.name}.console"]
        if run.qemu_kdump:
            outputs.append(self.root / f"{run.name}.qemu-kdump")
        return all(p.exists() for p in outputs)

    def _qemu_machine(self, run: GuestRun) -> list[str]:
        """QEMU's options for the run's CPU, memory, CPU count and NUMA nodes."""
        args = ["-m", f"{run.memory_mb}M", "-smp", str(run.cpus)]
        if run.la57:
            args += ["-cpu", "max,+la57"]
        if run.numa_nodes > 1:
            per_node = run.memory_mb // run.numa_nodes
            cpus = run.cpus // run.numa_nodes
            for node in range(run.numa_nodes):
                args += [
                    "-object", f"memory-backend-ram,id=mem{node},size={per_node}M",
                    "-numa", f"node,nodeid={node},cpus={node * cpus}-{(node + 1) * cpus - 1},memdev=mem{node}",
                ]  # fmt: skip
        return args

    def _guest(self, run: GuestRun) -> None:
        outputs = [self.root / f"{run.name}.elf", self.root / f"{run.name}.console"]
        if run.qemu_kdump:
            outputs.append(self.root / f"{run.name}.qemu-kdump")
        if self._guest_done(run):
            return
        self._initramfs()
        log(f"booting the guest for {run.name} (oracle={run.oracle}, kaslr={'on' if run.kaslr else 'off'})")
        start = time.monotonic()
        tmps = {p: self._tmp(p) for p in outputs}
        console = tmps[self.root / f"{run.name}.console"]
        append = f"console=ttyS0 panic=0 oops=panic{'' if run.kaslr else ' nokaslr'} oracle={run.oracle}"
        if run.tasks:
            append += f" oracle_tasks={run.tasks}"
        if run.swap_mb:
            append += " oracle_swap=1"
        if run.hog_mb:
            append += f" oracle_hog={run.hog_mb}"
        with tempfile.TemporaryDirectory(prefix="crashpy-qemu-") as work:
            qmp_path = Path(work) / "qmp.sock"
            qemu_log = Path(work) / "qemu.log"
            cmd = [
                "qemu-system-x86_64", "-accel", "tcg", *self._qemu_machine(run),
                "-kernel", str(self.vmlinuz), "-initrd", str(self.initramfs), "-append", append,
                "-display", "none", "-monitor", "none", "-serial", f"file:{console}",
                "-qmp", f"unix:{qmp_path},server=on,wait=off", "-device", "vmcoreinfo",
                "-nic", "user,model=virtio-net-pci", "-no-reboot",
            ]  # fmt: skip
            if run.swap_mb:
                disk = Path(work) / "swap.img"
                with open(disk, "wb") as f:
                    f.truncate(run.swap_mb << 20)  # sparse: only what the guest writes takes space
                cmd += ["-drive", f"file={disk},if=virtio,format=raw"]
            with open(qemu_log, "wb") as qlog:
                try:
                    qemu = subprocess.Popen(
                        cmd, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT,
                        preexec_fn=_set_pdeathsig,
                    )  # fmt: skip
                except FileNotFoundError:
                    raise BuildError(
                        "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
                    ) from None
                try:
                    self._wait_for_panic(run, qemu, console, qemu_log)
                    log(f"{run.name}: guest panicked after {time.monotonic() - start:.1f} s; dumping")
                    with Qmp(qmp_path) as qmp:
                        qmp.dump(tmps[self.root / f"{run.name}.elf"], None)
                        if run.qemu_kdump:
                            qmp.dump(tmps[self.root / f"{run.name}.qemu-kdump"], "kdump-zlib")
                        qmp.quit()
                    qemu.wait(timeout=30)
                except BaseException:
                    for tmp in tmps.values():
                        tmp.unlink(missing_ok=True)
                    raise
                finally:
                    if qemu.poll() is None:
                        qemu.kill()
                        qemu.wait()
        # The console first: a dump with its final name always has its console log next to it.
        for final in sorted(outputs, key=lambda p: p.suffix != ".console"):
            os.chmod(tmps[final], 0o644)  # QEMU makes its dumps readable by their owner only
            os.replace(tmps[final], final)
        log(f"{run.name}: done in {time.monotonic() - start:.1f} s")

    def _wait_for_panic(
        self, run: GuestRun, qemu: subprocess.Popen[bytes], console: Path, qemu_log: Path
    ) -> None:
        """Wait until the guest has finished panicking (its CPUs are parked) or fail clearly."""
        timeout = BOOT_TIMEOUT + run.tasks * 0.15  # starting many tasks under TCG takes a while
        deadline = time.monotonic() + timeout
        panicked_at: float | None = None
        while True:
            time.sleep(0.25)
            text = console.read_text(errors="replace") if console.exists() else ""
            if "---[ end Kernel panic" in text:
                time.sleep(0.5)
                return
            if panicked_at is None and "Kernel panic" in text:
                panicked_at = time.monotonic()
            if panicked_at is not None and time.monotonic() - panicked_at > 10:
                return  # panicked, but never printed the end line: take the dump anyway
            if qemu.poll() is not None:
                raise BuildError(
                    f"{run.name}: QEMU exited ({qemu.returncode}) before the guest panicked\n"
                    f"--- QEMU output:\n{_tail(qemu_log)}\n--- console tail:\n{_tail(console)}"
                )
            if time.monotonic() > deadline:
                raise BuildError(
                    f"{run.name}: no 'Kernel panic' on the console after {timeout:.0f} s\n"
                    f"--- console tail:\n{_tail(console)}"
                )

    # ---- step 5: derived forms ----

    def _makedumpfiles(self, names: Iterable[str]) -> None:
        """Make the named makedumpfile forms of their runs' ELF dumps, MAKEDUMPFILE_JOBS at a time."""
        names = list(names)
        queue = [name for name in MAKEDUMPFILE_FORMS if name in names and not (self.root / name).exists()]
        if not queue:
            return
        self._kernel()
        sources: dict[str, Path] = {}
        running: dict[str, tuple[subprocess.Popen[bytes], Path, float]] = {}
        try:
            for name in queue:
                run = RUNS[self.run_of(name) or ""]
                if run.name not in sources:
                    self._guest(run)
                    # makedumpfile 1.7.2 cannot read QEMU's header layout: give it a rewritten copy
                    # (a run that keeps no ELF has its ELF rewritten in place, then removed).
                    elf = self.root / f"{run.name}.elf"
                    if run.keep_elf:
                        sources[run.name] = self.root / f"{run.name}.mdf-input.elf.tmp-{os.getpid()}"
                        phdrs_first_copy(elf, sources[run.name])
                    else:
                        phdrs_first_in_place(elf)
                        sources[run.name] = elf
            while queue or running:
                while queue and len(running) < MAKEDUMPFILE_JOBS:
                    name = queue.pop(0)
                    running[name] = self._start_makedumpfile(name, sources[self.run_of(name) or ""])
                time.sleep(0.2)
                for name, (proc, messages, started) in list(running.items()):
                    if proc.poll() is None:
                        continue
                    del running[name]
                    self._finish_makedumpfile(name, proc, messages, started)
        finally:
            for proc, messages, _ in running.values():
                proc.kill()
                proc.wait()
                messages.unlink(missing_ok=True)
            for run_name, source in sources.items():
                if RUNS[run_name].keep_elf:
                    source.unlink(missing_ok=True)
                elif self._guest_done(RUNS[run_name]):
                    source.unlink(missing_ok=True)  # every form is made: the big ELF goes
            for name in MAKEDUMPFILE_FORMS:
                self._tmp(self.root / name).unlink(missing_ok=True)

    def _start_makedumpfile(self, name: str, source: Path) -> tuple[subprocess.Popen[bytes], Path, float]:
        options = MAKEDUMPFILE_FORMS[name]
        log(f"makedumpfile {' '.join(options)} -> {name}")
        tmp = self._tmp(self.root / name)
        tmp.unlink(missing_ok=True)  # makedumpfile will not overwrite a file
        messages = tmp.with_name(tmp.name + ".log")
        cmd = ["makedumpfile", *options, "-x", str(self.vmlinux), str(source)]
        with open(messages, "wb") as err:
            if "-F" in options:  # the flattened format goes to stdout
                with open(tmp, "wb") as out:
                    proc = subprocess.Popen(
                        cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, preexec_fn=_set_pdeathsig
                    )
            else:
                proc = subprocess.Popen(
                    [*cmd, str(tmp)],
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_set_pdeathsig,
                )
        return proc, messages, time.monotonic()

    def _finish_makedumpfile(
        self, name: str, proc: subprocess.Popen[bytes], messages: Path, started: float
    ) -> None:
        text = messages.read_text(errors="replace")
        messages.unlink()
        if proc.returncode != 0:
            options = " ".join(MAKEDUMPFILE_FORMS[name])
            raise BuildError(f"makedumpfile {options} for {name} failed (exit {proc.returncode}):\n{text}")
        for line in text.replace("\r", "\n").splitlines():
            line = line.strip()
            if line and not line.startswith(MAKEDUMPFILE_CHATTER):
                log(f"  makedumpfile ({name}): {line}")
        final = self.root / name
        tmp = self._tmp(final)
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        log(f"{name}: {final.stat().st_size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")

    def _truncated(self, name: str) -> None:
        final = self.root / name
        if final.exists():
            return
        original = TRUNCATED[name]
        self._build(original)
        src = self.root / original
        size = src.stat().st_size * TRUNCATE_PERCENT // 100
        log(f"{name}: first {TRUNCATE_PERCENT}% ({size} bytes) of {original}")
        tmp = self._tmp(final)
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            copy_prefix(fin, fout, size)
        os.replace(tmp, final)


def _decompressed_name(name: str) -> str:
    for suffix in (".xz", ".gz", ".zst"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _read_module(ko: Path) -> bytes:
    """A kernel module's ELF bytes; busybox insmod takes no compressed modules."""
    data = ko.read_bytes()
    if ko.name.endswith(".xz"):
        return lzma.decompress(data)
    if ko.name.endswith(".gz"):
        return gzip.decompress(data)
    if ko.name.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", str(ko)], capture_output=True, check=True).stdout
    return data


def copy_prefix(fin: IO[bytes], fout: IO[bytes], size: int) -> None:
    """Copy the first size bytes of fin to fout."""
    left = size
    while left > 0:
        chunk = fin.read(min(left, 1 << 22))
        if not chunk:
            raise BuildError(f"{fin.name} ended {left} bytes early")
        fout.write(chunk)
        left -= len(chunk)


class CpioWriter:
    """A cpio archive in the kernel's "newc" format, built in memory."""

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        fields = (self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._write_padded(header + name.encode() + b"\0")
        self._write_padded(data)

    def _write_padded(self, data: bytes) -> None:
        self._out.write(data)
        self._out.write(b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, perm: int, data: bytes) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, perm: int, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self._out.getvalue()


# ELF64 little-endian header: ident[16], type, machine, version, entry, phoff, shoff, flags,
# ehsize, phentsize, phnum, shentsize, shnum, shstrndx.
ELF64_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
ELF64_PHDR = struct.Struct("<IIQQQQQQ")
PN_XNUM = 0xFFFF


def phdrs_first_header(src: Path) -> bytes:
    """The new first bytes of an ELF core with its program headers moved to offset 64 and no section
    headers (what phdrs_first_copy writes over the old headers)."""
    with open(src, "rb") as f:
        head = f.read(ELF64_EHDR.size)
        if len(head) < ELF64_EHDR.size or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            raise BuildError(f"{src} is not a little-endian ELF64 file")
        ehdr = list(ELF64_EHDR.unpack(head))
        phoff, shoff, phentsize, phnum, shentsize, shnum = (ehdr[i] for i in (5, 6, 9, 10, 11, 12))
        if phnum == PN_XNUM:
            raise BuildError(f"{src} has more than 65534 program headers; cannot drop its section headers")
        if phentsize != ELF64_PHDR.size:
            raise BuildError(f"{src}: unexpected e_phentsize {phentsize}")
        f.seek(phoff)
        phdrs = f.read(phnum * phentsize)
    segments = [ELF64_PHDR.unpack_from(phdrs, i * phentsize) for i in range(phnum)]
    first_data = min((seg[2] for seg in segments if seg[5] > 0), default=phoff + len(phdrs))
    new_end = ELF64_EHDR.size + len(phdrs)
    if new_end > first_data:
        raise BuildError(f"{src}: no room for the program headers at offset 64 (data starts at {first_data})")
    old_end = max(phoff + len(phdrs), shoff + shnum * shentsize if shoff else 0)
    if old_end > first_data:
        raise BuildError(f"{src}: its headers overlap its data; cannot rewrite them in place")
    ehdr[5:7] = [ELF64_EHDR.size, 0]  # e_phoff, e_shoff
    ehdr[8] = ELF64_EHDR.size  # e_ehsize
    ehdr[11:14] = [0, 0, 0]  # e_shentsize, e_shnum, e_shstrndx
    # The old headers' bytes past the new ones become zeros.
    return ELF64_EHDR.pack(*ehdr) + phdrs + b"\0" * max(0, old_end - new_end)


def phdrs_first_copy(src: Path, dst: Path) -> None:
    """Copy an ELF core with its program headers moved to offset 64 and no section headers.

    QEMU writes section headers at 64 and program headers after them, which makedumpfile 1.7.2
    cannot read. The segment data stays at the same file offsets, so the phdrs stay valid.
    """
    header = phdrs_first_header(src)
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as out:
        out.write(header)


def phdrs_first_in_place(path: Path) -> None:
    """phdrs_first_copy() without the copy, for a dump that is not kept as ELF."""
    header = phdrs_first_header(path)
    with open(path, "r+b") as out:
        out.write(header)


class Qmp:
    """A minimal QEMU Machine Protocol client over a unix socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def __enter__(self) -> Qmp:
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock.connect(str(self.path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise BuildError(f"cannot connect to QEMU's QMP socket {self.path}") from None
                time.sleep(0.1)
        self.sock.settimeout(DUMP_TIMEOUT)
        self.reader = self.sock.makefile("rb")
        greeting = self._receive()
        if "QMP" not in greeting:
            raise BuildError(f"unexpected QMP greeting {greeting}")
        self.execute("qmp_capabilities")
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _receive(self) -> dict[str, Any]:
        line = self.reader.readline()
        if not line:
            raise BuildError("QEMU closed the QMP connection")
        message: dict[str, Any] = json.loads(line)
        return message

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        self._id += 1
        request: dict[str, Any] = {"execute": command, "id": self._id}
        if arguments:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            message = self._receive()
            if "event" in message:
                self.events.append(message)
            elif message.get("id") == self._id:
                if "error" in message:
                    raise BuildError(f"QMP {command} failed: {message['error']}")
                return message.get("return")

    def dump(self, path: Path, fmt: str | None) -> None:
        """dump-guest-memory to path (ELF, or fmt such as kdump-zlib) and wait until it is written."""
        arguments: dict[str, Any] = {"paging": False, "protocol": f"file:{path}"}
        if fmt is not None:
            arguments["format"] = fmt
        self.events.clear()
        self.execute("dump-guest-memory", arguments)
        deadline = time.monotonic() + DUMP_TIMEOUT
        while True:
            for event in self.events:
                if event.get("event") == "DUMP_COMPLETED":
                    error = event.get("data", {}).get("error")
                    if error:
                        raise BuildError(f"dump-guest-memory to {path} failed: {error}")
            status = self.execute("query-dump").get("status")
            if status == "completed":
                return
            if status == "failed":
                raise BuildError(f"dump-guest-memory to {path} failed")
            if time.monotonic() > deadline:
                raise BuildError(f"dump-guest-memory to {path} did not finish in {DUMP_TIMEOUT:.0f} s")
            time.sleep(0.2)

    def quit(self) -> None:
        with contextlib.suppress(BuildError, OSError):
            self.execute("quit")


def ensure(names: Iterable[str] | None = None, cache: Path | None = None) -> dict[str, Path]:
    """Build (if needed) the named dumps, or all of them; return name -> path.

    The result also holds "vmlinux", "vmlinuz", "oracle_crash.ko", "modules_dir" and, for each guest
    run a requested dump comes from, "<run>.console" (the guest's serial console log).
    """
    return Builder(cache).ensure(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cache", type=Path, help="cache root (default: $CRASHPY_CACHE or ~/.cache/crashpy)")
    parser.add_argument(
        "--list", action="store_true", help="list the names and where they are; build nothing"
    )
    parser.add_argument(
        "--release",
        action="store_true",
        help="print the kernel release the dumps are built from; build nothing",
    )
    parser.add_argument("names", nargs="*", help=f"what to build (default: all): {', '.join(ALL_NAMES)}")
    args = parser.parse_args(argv)
    if args.release:
        print(kernel_release())
        return 0
    builder = Builder(args.cache)
    if args.list:
        names = args.names or list(ALL_NAMES)
        try:
            paths = builder.outputs(names)
        except KeyError as err:
            parser.error(f"unknown name {err}")
        for name, path in paths.items():
            if path.is_file():
                state = f"{path.stat().st_size:>12}"
            else:
                state = f"{'(dir)' if path.is_dir() else '(missing)':>12}"
            print(f"{name:24} {state}  {path}")
        return 0
    start = time.monotonic()
    try:
        paths = builder.ensure(args.names or None)
    except ValueError as err:
        parser.error(str(err))
    except BuildError as err:
        log(f"error: {err}")
        return 1
    for name, path in paths.items():
        print(f"{name:24} {path}")
    log(f"ready in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
