"""files, fuser, foreach files and mount: crashpy against crash 8.0.6, text for text, one crash session
per dump.

The tasks, descriptors, dentries, inodes and mounts come from each dump: every user task's files (a
bounded selection on scale.d31.zlib), the current context, task addresses, -c, -R by path, kind,
descriptor number and address, -d for each dentry met (and the root directory's, a socket's), -p for
the inodes met (the busybox binary's page cache among them), fuser by path and inode address over
every task, foreach files whole, mount with -n; bad input gets crash's one-line errors.

Named differences:
- `mount <spec>` (no -f or -i): crash searches a listing it builds with each mount's open files and,
  on a kernel whose super blocks have no s_files list (every kernel since 3.x), stops with the -f
  errors instead.  crashpy searches the mount lines themselves: the test checks its answer against
  crash's own `mount` lines filtered by the same rule (pathcmp on each column, a vfsmount address).
- sysrq.elf.trunc40 (cut short): crash 8.0.6 does not open it; crashpy lists the mounts it can read,
  then crash's read-error line, and foreach files / fuser answer for the tasks whose tables survive.
"""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from crashpy.helpers import fs
from crashpy.helpers.tasks import task_table
from tests.crashpy_runner import both_outputs, describe, program, run_crashpy
from tests.test_address_space_oracle import _excluded_page
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]
USER_TASKS = 12  # tasks whose files are listed one by one on a dump with many
PER_KIND = 12  # dentries / inodes looked at per dump

BAD_INPUT = [
    "files 99999",
    "files zz",
    "files -x",
    "files -d zz",
    "files -p zz",
    "files -R a -R b",
    "files -d",
    "files 1 99999 zz",
    "fuser",
    "fuser zz",
    "fuser 1234",
    "fuser -x /",
    "mount -n 99999",
    "mount -n zz",
    "mount -x",
    "mount -i",
    "mount -f",
    "mount -f -i",
    "mount -n",
    "foreach files -p",
    "foreach 99999 files",
]


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    table = task_table(prog)
    users = [tc for tc in table.contexts if not tc.is_kernel_thread and tc.pid > 0][:USER_TASKS]
    kthread = next(tc for tc in table.contexts if tc.is_kernel_thread and tc.pid > 0)
    cmds = ["files", f"files {kthread.pid}", f"files {kthread.task:x}", "files 0"]
    dentries: dict[int, str] = {}
    inodes: dict[int, str] = {}
    fds: list[int] = []
    for tc in users:
        cmds += [f"files {tc.pid}", f"files -c {tc.pid}", f"files {tc.task:x}"]
        table_ = fs.task_fdtable(prog, tc.task)
        for fd, file in [(fd, f) for fd, f in (table_.files(prog) if table_ else []) if f]:
            row = fs.file_row(prog, file, fd)
            fds.append(fd)
            dentries.setdefault(row.dentry, row.path)
            inodes.setdefault(row.inode, row.path)
        taskfs = fs.task_fs(prog, tc.task)
        if taskfs:
            dentries.setdefault(taskfs.root_dentry, "/")
        for area in fs.mapped_files(prog, tc.mm) if tc.mm else []:
            if area.inode:
                inodes.setdefault(area.inode, area.path)
    pids = " ".join(str(tc.pid) for tc in users[:4])
    cmds += [f"files {pids}", f"files -c {pids}", f"files {users[0].task:x} {users[-1].pid}"]
    for ref in ["console", "/dev/console", "CHR", "REG", "SOCK", "/", "proc", "3", "1", "10", "64", "zz"]:
        cmds += [f"files -R {ref}", f"files -R {ref} {pids}"]
    for d in list(dentries)[:PER_KIND]:
        cmds += [f"files -d {d:x}", f"files -R {d:x} {pids}"]
    for i in list(inodes)[:PER_KIND]:
        cmds += [f"files -p {i:x}", f"files -R {i:x} {pids}"]
    paths_seen = sorted({p for p in list(dentries.values()) + list(inodes.values()) if p.startswith("/")})
    cmds += [f"fuser {p}" for p in paths_seen[:PER_KIND]]
    cmds += [f"fuser {i:x}" for i in list(inodes)[:3]]
    cmds += [f"fuser 0x{next(iter(inodes)):x}", "fuser /nonexistent", "fuser / /proc"]
    mapped = [i for i, p in inodes.items() if p == "/bin/busybox"]
    cmds += [f"fuser {i:x}" for i in mapped[:1]]  # an inode used through mmap only
    excluded = _excluded_page(name)
    if excluded is not None:
        cmds += [f"files -d {excluded:x}", f"files -p {excluded:x}"]
    cmds += ["mount", f"mount -n {users[0].pid}", f"mount -n {users[-1].task:x}", "mount -n 1", "mount -n 0"]
    cmds += [
        "foreach files",
        "foreach files -R console",
        f"foreach {users[0].pid} files -c",
        "foreach files -c -R REG",
        f"foreach {users[0].pid} {users[-1].pid} files",
    ]
    return cmds + BAD_INPUT + mount_searches(name)


@cache
def mount_searches(name: str) -> list[str]:
    """`mount <spec>` for a directory, a device and type name, a struct mount, vfsmount and super block
    address of the dump's mounts, and names no mount has (the named difference: see the docstring)."""
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    rows = [fs.mount_row(prog, m) for m in fs.mount_list(prog, task_table(prog).by_pid(1)[0].task)]
    off = prog.offsetof("mount", "mnt")
    specs = ["/proc", "proc", "/", "sysfs", "devtmpfs", "/sys/kernel/debug/", "//sys", "nothing"]
    specs += [
        f"{rows[1].mount:x}",
        f"0x{rows[1].mount + off:x}",
        f"{rows[-1].superblock:x}",
        rows[-1].dirname,
    ]
    return [f"mount {s}" for s in specs]


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    return both_outputs(name, commands(name))


@pytest.mark.parametrize("name", DUMPS)
def test_files_fuser_mount_match_crash(name: str) -> None:
    expected, got = outputs(name)
    searches = mount_searches(name)
    bad = [
        (c, e, g)
        for c, e, g in zip(commands(name), expected, got, strict=True)
        if e != g and c not in searches
    ]
    assert not bad, describe(bad)


@pytest.mark.parametrize("name", DUMPS)
def test_the_selection_covers_every_kind(name: str) -> None:
    """What the commands above reached: descriptors, sockets, the page cache, fuser's four uses."""
    got = dict(zip(commands(name), outputs(name)[1], strict=True))
    everything = "".join(got.values())
    assert " CHR  /dev/console" in everything and " SOCK " in everything
    assert "NRPAGES" in everything and "PHYSICAL" in everything  # a page-cache page listed by -p
    assert re.search(r"root cwd ", everything) and " fd \n" in everything and " mmap \n" in everything
    assert "PID: 1 " in got["foreach files"]


@pytest.mark.parametrize("name", DUMPS)
def test_mount_search_does_better_than_crash(name: str) -> None:
    """`mount <spec>`: crash fails on these kernels (see the module's docstring); crashpy prints the lines
    of crash's own `mount` listing that crash's rule picks, under one header."""
    from crashpy.commands.mount import _pathcmp

    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    off = prog.offsetof("mount", "mnt")
    said = dict(zip(commands(name), outputs(name)[0], strict=True))
    got = dict(zip(commands(name), outputs(name)[1], strict=True))
    listing = said["mount"].splitlines(keepends=True)
    header, lines = listing[0], listing[1:]
    for command in mount_searches(name):
        assert "super_block.s_files linked list does not exist" in said[command]
        spec = command.split()[1]
        spec = spec[2:] if spec.startswith("0x") else spec

        def picked(line: str, spec: str = spec) -> bool:
            words = line.split()
            if any(_pathcmp(w, spec) for w in words):
                return True
            return bool(re.fullmatch(r"[0-9a-f]+", spec)) and int(words[0], 16) + off == int(spec, 16)

        hits = [line for line in lines if picked(line)]
        assert got[command] == (header + "".join(hits) if hits else ""), command
    assert any(got[c] for c in mount_searches(name)) and not got["mount nothing"]


def test_files_and_mount_json_come_from_the_same_rows() -> None:
    paths = ensure(["sysrq.elf"])
    vmlinux, dump = paths["vmlinux"], paths["sysrq.elf"]
    text, doc, mtext, mdoc = run_crashpy(vmlinux, dump, ["files", "files --json", "mount", "mount --json"])
    task = json.loads(doc)["tasks"][0]
    lines = text.splitlines()
    assert lines[1] == f"ROOT: {task['root']}    CWD: {task['cwd']}"
    for f, line in zip(task["files"], lines[3:], strict=True):
        assert line.split() == [
            str(f["fd"]),
            f["file"],
            f["dentry"],
            f["inode"],
            f["type"],
            f["path"],
        ]
    mounts = json.loads(mdoc)["mounts"]
    for m, line in zip(mounts, mtext.splitlines()[1:], strict=True):
        assert line.split() == [m["mount"], m["superblock"], m["type"], m["devname"], m["dirname"]]


def test_files_json_options() -> None:
    """-c adds the page-cache columns, -d and -p give their records, -R keeps the matching tasks only,
    and a bad pid is one line, as docs/json.md says."""
    paths = ensure(["sysrq.elf"])
    vmlinux, dump = paths["vmlinux"], paths["sysrq.elf"]
    prog = program(vmlinux, dump)
    tc = task_table(prog).by_pid(1)[0]
    row = next(fs.file_row(prog, f, fd) for fd, f in fs.task_fdtable(prog, tc.task).files(prog) if f)  # type: ignore[union-attr]
    cmds = ["files --json -c 1", f"files --json -d {row.dentry:x}", f"files --json -p {row.inode:x}"]
    cmds += ["files --json -R nothing-matches", "files --json 99999", "mount --json -n 1", "mount --json -i"]
    c, d, p, r, bad, m, i = run_crashpy(vmlinux, dump, cmds)
    first = json.loads(c)["tasks"][0]["files"][0]
    assert {"i_mapping", "nrpages"} <= set(first) and first["fd"] == row.fd
    assert json.loads(d)["dentry"]["path"] == row.path
    page_cache = json.loads(p)
    assert page_cache["inode"] == f"{row.inode:x}" and len(page_cache["pages"]) <= page_cache["nrpages"]
    assert json.loads(r)["tasks"] == []
    assert bad == "files: invalid task or pid value: 99999\n"
    assert json.loads(m)["namespace_pid"] == 1 and json.loads(m)["mounts"]
    assert i == "mount: -i option not supported or applicable on this architecture or kernel\n"


def test_truncated_dump_lists_what_is_left() -> None:
    """Named difference: crash 8.0.6 does not open sysrq.elf.trunc40 (its per-cpu current_task is past
    the cut).  crashpy lists the mounts up to the first one whose super block was cut off, as the whole
    dump lists them, then crash's read-error line; foreach files and fuser agree with the whole dump for
    every task whose tables survive."""
    paths = ensure(["sysrq.elf", "sysrq.elf.trunc40"])
    vmlinux = paths["vmlinux"]
    cmds = ["mount", "foreach files", "fuser /dev/console"]
    whole = run_crashpy(vmlinux, paths["sysrq.elf"], cmds)
    cut = run_crashpy(vmlinux, paths["sysrq.elf.trunc40"], cmds)
    lines = cut[0].splitlines(keepends=True)
    if lines[-1].startswith("mount: read error: kernel virtual address: "):
        assert len(lines) > 2 and whole[0].startswith("".join(lines[:-1]))
    else:  # on some boots every super block lies before the cut: the whole list, with "(unknown)"
        # for a name whose string lies past it
        pairs = list(zip(lines, whole[0].splitlines(keepends=True), strict=True))
        assert all(a == b or "(unknown)" in a for a, b in pairs)
    blocks = [b for b in cut[1].split("\n\n") if "page excluded" not in b and "read error" not in b]
    assert blocks and all(b in whole[1] for b in blocks)
    assert cut[2].startswith(" PID ") and set(cut[2].splitlines()) <= set(whole[2].splitlines())
