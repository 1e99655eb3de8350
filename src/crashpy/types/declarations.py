"""Declared types of well-known kernel variables, for a kernel opened without its debug vmlinux.

BTF (the kernel's own type information, in memory) has every type, but up to 6.x only the per-CPU
variables among its VARs; DWARF has the rest. Without DWARF, the variables crash's commands and
users reach for are declared here as the kernel's headers declare them (`extern volatile unsigned
long jiffies;`), in types the kernel's BTF must have. An array's length is never guessed from the
kernel version: it is a fixed constant of the x86_64 ABI, or read from the kernel itself:

- `{enum:TYPE.NAME}`: an enumerator of the kernel's own BTF (zone_stat_item.NR_VM_ZONE_STAT_ITEMS ...);
- `{vmcoreinfo:NAME}`: VMCOREINFO's LENGTH(NAME) (node_data's MAX_NUMNODES);
- `{extent}`: as many elements as fit before the next kallsyms symbol (for arrays sized by their
  initialiser or a config constant; the kernel's own symbol layout bounds them);
- `{cstring}`: a char array initialised from a string literal: its string and the NUL.

A declaration is used only when its types are in the kernel's BTF and the variable fits before the
next symbol; anything else stays unknown and gdb's line says to cast it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError
from crashpy.types.model import EnumType, Type

if TYPE_CHECKING:
    from crashpy.program import Program

DECLARATIONS: dict[str, str] = {
    # time and scheduling
    "jiffies": "volatile unsigned long",
    "jiffies_64": "u64",
    "loops_per_jiffy": "unsigned long",
    "avenrun": "unsigned long [3]",
    "nr_threads": "int",
    "max_threads": "int",
    "total_forks": "unsigned long",
    "pid_max": "int",
    "tick_do_timer_cpu": "int",
    "sys_tz": "struct timezone",
    "shadow_timekeeper": "struct timekeeper",
    "root_task_group": "struct task_group",
    "kthreadd_task": "struct task_struct *",
    "system_state": "enum system_states",
    # the first task and its namespaces
    "init_task": "struct task_struct",
    "init_thread_union": "union thread_union",
    "init_stack": "unsigned long [{extent}]",
    "init_mm": "struct mm_struct",
    "init_fs": "struct fs_struct",
    "init_files": "struct files_struct",
    "init_signals": "struct signal_struct",
    "init_sighand": "struct sighand_struct",
    "init_cred": "struct cred",
    "init_css_set": "struct css_set",
    "init_nsproxy": "struct nsproxy",
    "init_uts_ns": "struct uts_namespace",
    "init_pid_ns": "struct pid_namespace",
    "init_user_ns": "struct user_namespace",
    "init_ipc_ns": "struct ipc_namespace",
    "init_net": "struct net",
    "init_struct_pid": "struct pid",
    "cad_pid": "struct pid *",
    "cgrp_dfl_root": "struct cgroup_root",
    "root_mem_cgroup": "struct mem_cgroup *",
    # panic, taint, watchdogs, the log
    "panic_cpu": "atomic_t",
    "panic_timeout": "int",
    "panic_on_oops": "int",
    "panic_on_warn": "int",
    "oops_in_progress": "int",
    "crash_kexec_post_notifiers": "bool",
    "kexec_crash_image": "struct kimage *",
    "tainted_mask": "unsigned long",
    "taint_flags": "const struct taint_flag [{extent}]",
    "sysctl_hung_task_timeout_secs": "unsigned long",
    "sysctl_hung_task_panic": "unsigned int",
    "watchdog_thresh": "int",
    "softlockup_panic": "unsigned int",
    "oom_killer_disabled": "bool",
    "linux_banner": "const char [{cstring}]",
    "linux_proc_banner": "const char [{cstring}]",
    "saved_command_line": "char *",
    "boot_command_line": "char [2048]",
    "prb": "struct printk_ringbuffer *",
    "printk_rb_static": "struct printk_ringbuffer",
    "printk_rb_dynamic": "struct printk_ringbuffer",
    "clear_seq": "struct latched_seq",
    "log_buf": "char *",
    "log_buf_len": "u32",
    "console_printk": "int [4]",
    "vmcoreinfo_data": "unsigned char *",
    # CPUs
    "nr_cpu_ids": "unsigned int",
    "fixed_percpu_data": "struct fixed_percpu_data",
    "__per_cpu_offset": "unsigned long [{extent}]",
    "__cpu_online_mask": "struct cpumask",
    "__cpu_possible_mask": "struct cpumask",
    "__cpu_present_mask": "struct cpumask",
    "__cpu_active_mask": "struct cpumask",
    "boot_cpu_data": "struct cpuinfo_x86",
    "cpu_khz": "unsigned int",
    "tsc_khz": "unsigned int",
    "x86_hyper_type": "enum x86_hypervisor_type",
    "pv_info": "struct pv_info",
    "idt_table": "gate_desc [256]",
    # memory
    "page_offset_base": "unsigned long",
    "vmalloc_base": "unsigned long",
    "vmemmap_base": "unsigned long",
    "phys_base": "unsigned long",
    "high_memory": "void *",
    "max_pfn": "unsigned long",
    "max_low_pfn": "unsigned long",
    "min_low_pfn": "unsigned long",
    "_totalram_pages": "atomic_long_t",
    "totalreserve_pages": "unsigned long",
    "totalcma_pages": "unsigned long",
    "vm_committed_as": "struct percpu_counter",
    "sysctl_overcommit_ratio": "int",
    "sysctl_overcommit_kbytes": "unsigned long",
    "vm_zone_stat": "atomic_long_t [{enum:zone_stat_item.NR_VM_ZONE_STAT_ITEMS}]",
    "vm_node_stat": "atomic_long_t [{enum:node_stat_item.NR_VM_NODE_STAT_ITEMS}]",
    "vm_numa_event": "atomic_long_t [{enum:numa_stat_item.NR_VM_NUMA_EVENT_ITEMS}]",
    "node_data": "pg_data_t *[{vmcoreinfo:node_data}]",
    "node_states": "nodemask_t [{enum:node_states.NR_NODE_STATES}]",
    "contig_page_data": "struct pglist_data",
    "mem_section": "struct mem_section **",
    "vmap_area_list": "struct list_head",
    "vmap_area_root": "struct rb_root",
    "slab_caches": "struct list_head",
    "kmalloc_caches": "struct kmem_cache *[{enum:kmalloc_cache_type.NR_KMALLOC_TYPES}][14]",
    "hstates": "struct hstate [2]",
    "hugetlb_max_hstate": "int",
    "nr_swapfiles": "unsigned int",
    "swap_info": "struct swap_info_struct *[{extent}]",
    "total_swap_pages": "long",
    "nr_swap_pages": "atomic_long_t",
    "e820_table": "struct e820_table *",
    "e820_table_firmware": "struct e820_table *",
    "e820_table_kexec": "struct e820_table *",
    "memory_subsys": "struct bus_type",
    # modules, files, devices, network, interrupts
    "modules": "struct list_head",
    "module_mutex": "struct mutex",
    "super_blocks": "struct list_head",
    "file_systems": "struct file_system_type *",
    "blockdev_superblock": "struct super_block *",
    "dentry_hashtable": "struct hlist_bl_head *",
    "d_hash_shift": "unsigned int",
    "mount_hashtable": "struct hlist_head *",
    "chrdevs": "struct char_device_struct *[255]",
    "major_names": "struct blk_major_name *[255]",
    "ioport_resource": "struct resource",
    "iomem_resource": "struct resource",
    "pci_root_buses": "struct list_head",
    "net_namespace_list": "struct list_head",
    "prog_idr": "struct idr",
    "map_idr": "struct idr",
    "link_idr": "struct idr",
    "dmi_ident": "const char *[{enum:dmi_field.DMI_STRING_MAX}]",
    "sys_call_table": "const sys_call_ptr_t [{extent}]",
    "irq_desc_tree": "struct radix_tree_root",
    "sparse_irqs": "struct maple_tree",
    "nr_irqs": "int",
    "irq_default_affinity": "cpumask_var_t",
}

_PLACEHOLDER = re.compile(r"\{(extent|cstring|enum:\w+\.\w+|vmcoreinfo:\w+)\}")


def declared_spelling(
    name: str,
    enumerator: Callable[[str, str], int | None],
    vmcoreinfo_length: Callable[[str], int | None],
    element_size: Callable[[str], int | None],
    extent: Callable[[], int | None],
    cstring: Callable[[], int | None] = lambda: None,
) -> str | None:
    """The C spelling of variable `name`'s type with its array lengths filled in, or None when the
    variable is not declared here or a length cannot be read from the kernel. `element_size(spelling)`
    is the size of the element type (for {extent}), `extent()` the bytes before the next symbol."""
    decl = DECLARATIONS.get(name)
    if decl is None:
        return None
    failed = False

    def fill(m: re.Match[str]) -> str:
        nonlocal failed
        what = m.group(1)
        value: int | None = None
        if what.startswith("enum:"):
            enum_name, _dot, item = what[5:].partition(".")
            value = enumerator(enum_name, item)
        elif what.startswith("vmcoreinfo:"):
            value = vmcoreinfo_length(what[11:])
        elif what == "cstring":
            value = cstring()
        else:
            room = extent()
            size = element_size(decl[: decl.index("[")].strip())
            if room is not None and size:
                value = room // size
        if value is None or value <= 0:
            failed = True
            return "0"
        return str(value)

    spelled = _PLACEHOLDER.sub(fill, decl)
    return None if failed else spelled


def declared_type(prog: Program, name: str) -> Type | None:
    """The declared type of `name` in the kernel's BTF, when it fits before the next symbol; else None."""
    sym = prog.symbols.lookup(name)
    if sym is None or sym.type in "TtWw":
        return None
    btf = prog.btf

    def enumerator(enum_name: str, item: str) -> int | None:
        t = btf.find(enum_name, "enum")
        if not isinstance(t, EnumType):
            return None
        return t.enumerators.get(item)

    def extent() -> int | None:
        table = prog.symbols
        pos = table.position(sym.address + 1)
        nxt = table.by_position(pos)
        return nxt.address - sym.address if nxt is not None else None

    def element_size(spelling: str) -> int | None:
        try:
            return int(btf.lookup_type(spelling).size)
        except CrashpyError:
            return None

    def cstring() -> int | None:
        room = extent()
        try:
            data = prog.read(sym.address, min(room or 4096, 4096))
        except CrashpyError:
            return None
        end = data.find(b"\0")
        return end + 1 if end >= 0 else None

    spelled = declared_spelling(name, enumerator, prog.vmcoreinfo.length, element_size, extent, cstring)
    if spelled is None:
        return None
    try:
        t = btf.lookup_type(spelled)
        size = int(t.size)
    except CrashpyError:
        return None
    room = extent()
    if room is not None and size > room:
        return None  # the declaration does not fit this kernel's layout
    return t
