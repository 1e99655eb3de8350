"""`kmem <address>`: everything kmem knows of one address, in crash's order (memory.c kmem_search):

1. the kernel or module symbol it lies in, with its source line (kernel text, data, modules);
2. for a mapped vmalloc address: the task whose stack it is, the vmalloc area, then (as for a
   physical address) the page it maps to;
3. for a physical address a vmalloc area maps: that task, the symbol and the area;
4. the slab cache, slab and object holding it (commands/kmem_slab.py);
5. the free block of the buddy allocator holding its page (commands/kmem_pages.py);
6. the task whose task_struct or kernel stack holds it;
7. its page's memory-map line, or crash's line saying the map has no page for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands import kmem_pages, kmem_slab, kmem_zones
from crashpy.commands.set import format_context
from crashpy.commands.sym import symbol_line
from crashpy.errors import CrashpyError, FaultError
from crashpy.helpers.tasks import stack_owner, task_struct_owner
from crashpy.symbols.crash_view import crash_symtab
from crashpy.unwind.stacks import THREAD_SIZE

if TYPE_CHECKING:
    from crashpy.session import Session


def _symbol(session: Session, vaddr: int) -> str:
    found = crash_symtab(session.prog).value_search(vaddr)
    if found is None:
        return ""
    sym, offset = found
    return symbol_line(session, sym, offset, True) + "\n\n"


def _stack_task(session: Session, vaddr: int) -> str:
    table = session.task_table()
    task = stack_owner(session.prog, table, vaddr, THREAD_SIZE)
    if task is None or task not in table.by_task:
        return ""
    return format_context(session, table.by_task[task]) + "\n"


def _in_kernel_image(session: Session, vaddr: int) -> bool:
    prog = session.prog
    try:
        start, end = prog.symbol_address("_stext"), prog.symbol_address("_end")
    except CrashpyError:
        return False
    return start <= vaddr <= end


def kmem_search(session: Session, spec: int, physical_flag: bool) -> str:
    """The text of `kmem [-P] <spec>`."""
    prog = session.prog
    layout = prog.layout
    physical = physical_flag or not prog.is_kvaddr(spec)
    high = kmem_pages.high_memory_phys(prog)
    vaddr: int | None = spec
    if physical:
        vaddr = (spec + layout.page_offset) & ((1 << 64) - 1) if spec < high else None
    out: list[str] = []
    # 1. a symbol in the kernel image or a module
    if vaddr is not None and (
        _in_kernel_image(session, vaddr) or layout.modules_start <= spec <= layout.modules_end
    ):
        out.append(_symbol(session, vaddr))
    page_spec, page_physical = spec, physical
    mapped_elsewhere = False
    # 2. a mapped vmalloc address: its stack's task, its area, then the page it maps to
    if not physical and layout.is_mapped_region(spec):
        out.append(_stack_task(session, spec))
        try:
            hit = kmem_zones.vmalloc_search(prog, spec)
        except FaultError:
            hit = None
        if hit is not None:
            text, page_spec = hit
            out.append(text)
            page_physical = mapped_elsewhere = True
    # 3. a physical address a vmalloc area maps
    if not mapped_elsewhere and physical:
        try:
            found = kmem_zones.phys_to_vmalloc(prog, spec)
        except FaultError:
            found = None
        if found is not None:
            mapping, text = found
            out.append(_stack_task(session, mapping))
            out.append(_symbol(session, mapping))
            out.append(text)
            mapped_elsewhere = True
    if not mapped_elsewhere:
        # 4. slab, 5. free block, 6. task_struct or stack
        if vaddr is not None:
            out.append("".join(line + "\n" for line in kmem_slab.search_slab_part(session, spec, physical)))
        free = kmem_pages.free_search_text(prog, spec, physical)
        if free is None:
            out.append(f"kmem: cannot determine page for {spec:x}\n")
        elif free:
            out.append(free + "\n")
        if vaddr is not None:
            table = session.task_table()
            task = task_struct_owner(prog, table, vaddr)
            if task is not None and task in table.by_task:
                out.append(format_context(session, table.by_task[task]) + "\n")
            else:
                out.append(_stack_task(session, vaddr))
    # 7. the page's memory-map line
    line = None
    if vaddr is not None:
        line = kmem_pages.mem_map_one(prog, page_spec, page_physical, True, None)
    if line is None:
        space = "physical" if page_physical else "kernel virtual"
        out.append(f"{page_spec:x}: {space} address not found in mem map\n")
    else:
        out.append(line)
    return "".join(out)
