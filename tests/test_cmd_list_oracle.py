"""`list` and `tree` on real dumps: crashpy against crash 8.0.6, one crash session per dump.

Addresses that are not symbols come from the dump itself (through crashpy's expression evaluator), so the
same table runs on KASLR dumps; `{name}` in a command is replaced by the address of that expression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crashpy_runner import program, run_crashpy

ADDRESSES = {
    # the last task on init_task.tasks: a user task (it has an mm with a maple tree of VMAs)
    "last": "(char *)init_task.tasks.prev - (unsigned long)&((struct task_struct *)0)->tasks",
    "first": "(char *)init_task.tasks.next - (unsigned long)&((struct task_struct *)0)->tasks",
    "children": "&init_task.children",
    "vmap_node": "vmap_area_root.rb_node",
    "rootfs_inodes": "&((struct super_block *)super_blocks.next)->s_inodes",
}
ADDRESSES["mm"] = f"((struct task_struct *)({ADDRESSES['last']}))->mm"
ADDRESSES["mm_node"] = f"{ADDRESSES['mm']}->mm_mt.ma_root"
ADDRESSES["xa_node"] = "init_pid_ns.idr.idr_rt.xa_head"

LIST_COMMANDS = [
    "list task_struct.tasks -s task_struct.pid,comm -h init_task",
    "list task_struct.tasks -S task_struct.pid,comm,stack,mm,sched_class -h init_task",
    "list -x task_struct.tasks -h init_task -s task_struct.pid",
    "list -d task_struct.tasks -h init_task -S task_struct.pid,mm",
    "list task_struct.tasks -h init_task -s task_struct.se.on_rq",
    "list -r task_struct.tasks -h init_task",
    "list -H modules",
    "list -r -H modules",
    "list -B -H modules",
    "list 8 -H modules",
    "list -o 8 -H modules",
    "list -H modules -o 8",
    "list -H modules -o module.list -s module.name",
    "list -H super_blocks -o super_block.s_list",
    "list -H super_blocks -s super_block.s_id -o super_block.s_list",
    "list -H super_blocks -S super_block.s_id,s_blocksize,s_magic -o super_block.s_list",
    "list task_struct.sibling -H {children}",
    "list task_struct.sibling -H {children} -s task_struct.comm",
    "list -o task_struct.children -O task_struct.children -h init_task",
    "list -o task_struct.sibling -O task_struct.children -h init_task -S task_struct.pid",
    "list task_struct.parent {last}",
    "list task_struct.parent -s task_struct.pid {last}",
    "list task_struct.real_parent -S task_struct.pid,comm {last}",
    "list {last}",
    "list 0 {first}",
    "list -H {rootfs_inodes} -o inode.i_sb_list -S inode.i_ino,i_mode",
    "list -H {rootfs_inodes} -B",
    "list -H ftrace_events",
    "list -H slab_caches -o kmem_cache.list -s kmem_cache.name,size",
    "list -H slab_caches -o kmem_cache.list -e {first}",
    "list -H slab_caches -l kmem_cache.list -s kmem_cache.size",
    "list -H modules -B -s module.state -o module.list",
    "list -H modules -o module.list -S module.state,refcnt,name,version",
    "list (modules+8)",
    "list -H (modules)",
    "list -s task_struct.pid 0 {first}",
    "list -S task_struct.pid 0 {first}",
    "list -e 0 -H modules",
    # what crash refuses
    "list",
    "list 0",
    "list task_struct.sibling -H init_task.children",
    "list -z modules",
    "list -s task_struct.pid -S task_struct.comm -h init_task",
    "list -o 8 -o 8 -H modules",
    "list -l 8 -H modules",
    "list -d -x -H modules",
    "list nosuchsymbol",
    "list -S module.nosuch -H modules",
    "list -s module.nosuch -H modules",
    "list -O 8 -O 8 -h init_task",
    "list 1 2 3",
]

TREE_COMMANDS = [
    "tree -t rbtree -o vmap_area.rb_node vmap_area_root",
    "tree -t rbtree -o vmap_area.rb_node vmap_area_root -p",
    "tree -t rbtree -o vmap_area.rb_node vmap_area_root -l -p -s vmap_area.va_start,va_end",
    "tree -t rbtree -l vmap_area_root",
    "tree -t rbtree -o vmap_area.rb_node -N {vmap_node}",
    "tree -t rbtree -o 8 vmap_area_root -s vmap_area.va_start -d",
    "tree -t rbtree -o vmap_area.rb_node -r 0 vmap_area_root -s vmap_area.va_start -x",
    "tree vmap_area_root -o vmap_area.rb_node -S vmap_area.rb_node",
    "tree -t radix -r pid_namespace.idr init_pid_ns",
    "tree -t xarray -r pid_namespace.idr init_pid_ns",
    "tree -t xarray -r pid_namespace.idr init_pid_ns -p",
    "tree -t xarray -r pid_namespace.idr init_pid_ns -s pid.level,numbers[0].nr",
    "tree -t xarray -r pid_namespace.idr init_pid_ns -S pid.level,count",
    "tree -t xarray -r pid_namespace.idr init_pid_ns -s pid",
    "tree -t x init_pid_ns",
    "tree -t maple init_mm",
    "tree -t maple -v -r mm_struct.mm_mt init_mm",
    "tree -t maple {mm}",
    "tree -t maple -p {mm}",
    "tree -t maple -v {mm}",
    "tree -t m -S vm_area_struct.vm_start,vm_end,vm_flags {mm}",
    "tree -t maple -s vm_area_struct.vm_start,vm_file -x {mm}",
    "tree -t maple -p -s vm_area_struct.vm_start -N {mm_node}",
    "tree -t xarray -N {xa_node}",
    "tree -t xarray -N {xa_node} -p",
    "tree -t rbtree jiffies -o 8",
    # what crash refuses
    "tree",
    "tree -t foo init_pid_ns",
    "tree -t xarray -l init_pid_ns",
    "tree -t xarray -o 8 init_pid_ns",
    "tree -t rbtree -v vmap_area_root",
    "tree -t rbtree -N -r 8 vmap_area_root",
    "tree -t rbtree -N 0 vmap_area_root",
    "tree -t rbtree vmap_area_root extra",
    "tree -t rbtree -t xarray vmap_area_root",
    "tree -t rbtree vmap_area_root -S foo.bar",
    "tree -t xarray init_pid_ns -S pid.nosuch",
    "tree -t maple -S vm_area_struct.nosuch {mm}",
]


def commands_for(paths: dict[str, Path], dump: str, commands: list[str]) -> list[str]:
    from crashpy.expr import evaluate

    prog = program(paths["vmlinux"], paths[dump])
    where = {k: f"{int(evaluate(prog, f'(unsigned long)({v})').value_()):x}" for k, v in ADDRESSES.items()}
    return [c.format(**where) for c in commands]


HELP_COMMANDS = ["help list", "help tree"]


@pytest.mark.parametrize("dump", ["sysrq.elf", "kaslr.elf", "la57.elf"])
def test_list_and_tree_match_crash(paths: dict[str, Path], dump: str) -> None:
    from tests.oracle import run_crash

    commands = commands_for(paths, dump, LIST_COMMANDS + TREE_COMMANDS) + HELP_COMMANDS
    expected = run_crash(paths["vmlinux"], paths[dump], commands)
    got = run_crashpy(paths["vmlinux"], paths[dump], commands)
    n = len(commands) - len(HELP_COMMANDS)
    bad = [(c, e, g) for c, e, g in zip(commands[:n], expected[:n], got[:n], strict=True) if e != g]
    assert not bad, "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in bad)
    # Help pages are crashpy's own words in crash's shape: the same NAME line and SYNOPSIS.
    for command, exp, mine in zip(commands[n:], expected[n:], got[n:], strict=True):
        exp_lines, my_lines = exp.split("\n"), mine.split("\n")
        assert my_lines[:3] == exp_lines[:3] and my_lines[1] == "NAME", command
        k, j = exp_lines.index("SYNOPSIS"), my_lines.index("SYNOPSIS")
        assert my_lines[j : my_lines.index("", j)] == exp_lines[k : exp_lines.index("", k)], command
        assert "DESCRIPTION" in my_lines and "EXAMPLES" in my_lines, command
        assert mine.endswith("\n\n") and not mine.endswith("\n\n\n"), command


def test_on_compressed_dump(paths: dict[str, Path]) -> None:
    """On a makedumpfile -d 31 dump the kernel's lists and trees are all there."""
    from tests.oracle import run_crash

    commands = commands_for(
        paths,
        "sysrq.d31.zlib",
        [
            "list -H modules",
            "list task_struct.tasks -S task_struct.pid,comm -h init_task",
            "tree -t xarray -r pid_namespace.idr init_pid_ns -p",
            "tree -t maple -p {mm}",
            "tree -t rbtree -o vmap_area.rb_node vmap_area_root -l",
        ],
    )
    expected = run_crash(paths["vmlinux"], paths["sysrq.d31.zlib"], commands)
    got = run_crashpy(paths["vmlinux"], paths["sysrq.d31.zlib"], commands)
    assert got == expected


def test_list_usage_is_crashs(paths: dict[str, Path]) -> None:
    """The usage lines a bad `list`/`tree` prints come from the help pages' SYNOPSIS."""
    got = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], ["list", "tree"])
    assert got[0] == (
        "list: starting address required\n"
        "Usage:\n"
        "  list [[-o] offset][-e end][-[s|S] struct[.member[,member] [-l offset]] -[x|d]]\n"
        "       [-r|-B] [-h [-O head_offset]|-H] start\n"
        'Enter "help list" for details.\n'
    )
    assert got[1].startswith(
        "tree: a starting address is required\nUsage:\n  tree [-t [radix|xarray|rbtree|maple]]"
    )
