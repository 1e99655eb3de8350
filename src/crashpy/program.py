"""Program: the opened dump plus its kernel. It owns every cache; nothing is parsed before it is needed."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from crashpy.arch.x86_64 import (
    LEVELS_4,
    LEVELS_5,
    MASK64,
    PAGE_SIZE,
    START_KERNEL_MAP,
    Layout,
    make_layout,
)
from crashpy.dumpfile.base import DumpFile
from crashpy.dumpfile.vmcoreinfo import VmcoreInfo
from crashpy.elf.errors import ElfError
from crashpy.elf.file import ElfFile
from crashpy.errors import AddressSpace, CommandError, CrashpyError, FaultError, FaultKind, StartupError
from crashpy.memory import KernelMemory, Partial, PhysicalMemory, UserMemory
from crashpy.memory.pagetable import page_frame
from crashpy.symbols.table import Symbol, SymbolTable

if TYPE_CHECKING:
    from crashpy.elf.bzimage import KernelImage
    from crashpy.module_btf import ModuleBTFs
    from crashpy.symbols.kallsyms import Kallsyms, KallsymsTables
    from crashpy.types.btf import BTF


class SymbolError(CommandError):
    """An unknown symbol name."""


_T = TypeVar("_T")
REMEMBER_LIMIT = 1 << 16  # answers kept per helper key (per dentry, per file, ...): FIFO beyond
USER_SPACES_KEPT = 256  # user address spaces (page-table walkers) kept per program


def open_stripped_image(path: str) -> KernelImage:
    """A bzImage or stripped vmlinux, opened (decompressed, or mapped from the disk cache); StartupError
    in one line when it cannot be read."""
    from crashpy.elf.bzimage import open_kernel_image

    try:
        return open_kernel_image(path)
    except ElfError as e:
        raise StartupError(str(e)) from None


def open_vmlinux(path: str) -> ElfFile:
    """The vmlinux file, mapped; StartupError in one line when it is no x86_64 kernel's ELF file."""
    try:
        image = ElfFile(path)
    except ElfError as e:
        raise StartupError(str(e)) from None
    if not image.is64 or image.order != "<":
        image.close()
        raise StartupError(f"{path}: not a 64-bit little-endian ELF file")
    if image.e_machine != 62:  # EM_X86_64
        image.close()
        raise StartupError(f"{path}: not an x86_64 kernel (ELF machine {image.e_machine})")
    return image


_NOP5 = b"\x0f\x1f\x44\x00\x00"  # what ftrace writes over each function's call of __fentry__ at boot


def _ftrace_nops(data: bytes, addr: int, fentry: int) -> bytes:
    """`data` (kernel text at `addr`, from the image file) with each `call __fentry__` turned into the
    5-byte NOP the kernel's ftrace put there while booting (the sites not being traced read so)."""
    out = bytearray(data)
    at = out.find(0xE8)
    while 0 <= at <= len(out) - 5:
        if (addr + at + 5 + int.from_bytes(out[at + 1 : at + 5], "little", signed=True)) & MASK64 == fentry:
            out[at : at + 5] = _NOP5
            at = out.find(0xE8, at + 5)
        else:
            at = out.find(0xE8, at + 1)
    return bytes(out)


class Program:
    """A kernel crash dump opened with its vmlinux (the vmlinux may be absent later: kallsyms, BTF from memory)."""

    def __init__(
        self,
        dump: DumpFile,
        vmlinux: str | None,
        *,
        kaslr_offset: int | str | None = None,
        dump_path: str | None = None,
        phys_base: int | None = None,
        page_offset: int | None = None,
        zero_excluded: bool = False,
        stripped_image: str | None = None,
    ) -> None:
        self.dump = dump
        self._zero_excluded = zero_excluded
        self._phys_base_override = phys_base  # -m phys_base=
        self._page_offset_override = page_offset  # -m page_offset=
        self.dump_path = dump_path or dump.path
        self.vmlinux_path = vmlinux
        self.vmcoreinfo = VmcoreInfo(dump.info.vmcoreinfo)
        self.image: ElfFile | None = open_vmlinux(vmlinux) if vmlinux else None
        # A kernel image without symbols (bzImage, stripped vmlinux): the read-only kernel contents the
        # dump lacks, and a second copy of the kallsyms tables.
        self.stripped_image_path = stripped_image
        self.stripped_image: KernelImage | None = open_stripped_image(stripped_image) if stripped_image else None
        # A System.map given without a vmlinux: (name, address relocated by KASLR, nm letter) per line.
        self.system_map: list[tuple[str, int, str]] | None = None
        self.kallsyms_source = ""  # where `kallsyms` came from: "dump", "image" or "System.map"
        self._auto_phys_base: int | None = None
        if isinstance(kaslr_offset, int):
            self.kaslr_offset = kaslr_offset
        elif kaslr_offset != "auto" and self.vmcoreinfo.kerneloffset is not None:
            self.kaslr_offset = self.vmcoreinfo.kerneloffset
        elif kaslr_offset == "auto" or not self.vmcoreinfo:
            self.kaslr_offset = self._auto_kaslr()
        else:
            self.kaslr_offset = 0

    def close(self) -> None:
        """Close the dump and the vmlinux (a fleet run opens thousands of dumps in one process)."""
        self.dump.close()
        image = self.__dict__.get("image")
        if image is not None:
            image.close()
        stripped = self.__dict__.get("stripped_image")
        if stripped is not None:
            stripped.close()

    def _auto_kaslr(self) -> int:
        """KASLR offset (and phys_base) from the dump's CPU state, for dumps without VMCOREINFO."""
        from crashpy.arch.kaslr import find_kaslr

        if self.image is None:
            return 0
        table = SymbolTable()
        table.add_vmlinux(self.image, 0)

        def link_address(name: str) -> int | None:
            sym = table.lookup(name)
            return sym.address if sym is not None else None

        def walk(root: int, vaddr: int, five_level: bool) -> int | None:
            page = page_frame(self.dump.read, root, vaddr, LEVELS_5 if five_level else LEVELS_4)
            return None if page is None else page | (vaddr & (PAGE_SIZE - 1))

        found = find_kaslr(self.dump.read, self.dump.info.notes, link_address, walk)
        if found is None:
            return 0
        offset, self._auto_phys_base = found
        return offset

    # ---- symbols -------------------------------------------------------------------------------------

    @property
    def debuginfo(self) -> bool:
        """Whether a debug vmlinux was given: without one, symbols come from the dump's kallsyms, types
        from its BTF, and there are no source lines nor DWARF-only variable types."""
        return self.image is not None

    @property
    def kernel_name(self) -> str:
        """What sys's KERNEL line and set's namelist name: the vmlinux, or where the kernel's symbols
        and types came from without one."""
        if self.vmlinux_path:
            return self.vmlinux_path
        if self.stripped_image_path:
            return f"{self.stripped_image_path} (no debuginfo: kallsyms, BTF and ORC of the dump)"
        return "(no vmlinux: kallsyms, BTF and ORC of the dump)"

    @cached_property
    def symbols(self) -> SymbolTable:
        table = SymbolTable()
        if self.image is not None:
            table.add_vmlinux(self.image, self.kaslr_offset)
        else:
            table.add_kallsyms(self.kallsyms)
        self._trim_stripped_image(table)
        return table

    def use_system_map(self, entries: list[tuple[str, int, str]]) -> None:
        """Take a System.map's (name, address relocated by KASLR, letter) rows, before the symbols are
        built: they name the kallsyms tables of a kernel whose VMCOREINFO does not (before 6.0), and are
        the symbols themselves when kallsyms cannot be decoded."""
        self.system_map = entries
        for name in ("kallsyms", "symbols"):
            self.__dict__.pop(name, None)

    def read_image(self, addr: int, size: int) -> bytes:
        """Bytes of the kernel image (text, rodata, data) at `addr`, read through the kernel text map
        (__pa_symbol: no page tables needed, so it works before the kernel's layout is known).  Pages
        the dump lacks come from the stripped kernel image's read-only sections, when one was given."""
        paddr = (addr - START_KERNEL_MAP + self.phys_base) & MASK64
        try:
            return self.physical.read(paddr, size)
        except FaultError:
            if self.stripped_image is None:
                raise
        out = bytearray()
        cur, stop = addr, addr + size
        while cur < stop:
            n = min(stop, (cur | (PAGE_SIZE - 1)) + 1) - cur
            try:
                out += self.physical.read((cur - START_KERNEL_MAP + self.phys_base) & MASK64, n)
            except FaultError:
                data = self._image_fallback(cur, n)
                if data is None:
                    raise
                out += data
            cur += n
        return bytes(out)

    def _image_fallback(self, addr: int, size: int) -> bytes | None:
        """The stripped kernel image's bytes at kernel address `addr` (relocated as KASLR moved the
        kernel), or None outside its read-only sections."""
        image = self.stripped_image
        if image is None or addr < START_KERNEL_MAP:
            return None
        data = image.read((addr - self.kaslr_offset) & MASK64, size, self.kaslr_offset)
        table: SymbolTable | None = self.__dict__.get("symbols")
        fentry = table.lookup("__fentry__") if table is not None else None
        if data is None or fentry is None or b"\xe8" not in data:
            return data
        return _ftrace_nops(data, addr, fentry.address)

    def _trim_stripped_image(self, table: SymbolTable) -> None:
        """Leave out of the stripped image's answers the part of .rodata the kernel writes while it boots
        (__ro_after_init variables), once the symbols say where it is; all of .rodata when they do not
        (its kallsyms tables have been read by then)."""
        image = self.stripped_image
        if image is None:
            return
        start, end = table.lookup("__start_ro_after_init"), table.lookup("__end_ro_after_init")
        if start is not None and end is not None and start.address < end.address:
            image.exclude(start.address - self.kaslr_offset, end.address - self.kaslr_offset)
            return
        rodata = image.elf.section(".rodata")
        if rodata is not None:
            image.exclude(rodata.addr, rodata.addr + rodata.size)

    def _kallsyms_tables(self) -> KallsymsTables:
        """Where the kallsyms tables lie: VMCOREINFO names them (since 6.0), else a System.map does."""
        from crashpy.symbols.kallsyms import KallsymsError, KallsymsTables

        tables = KallsymsTables.from_symbols(self.vmcoreinfo.symbol) if self.vmcoreinfo else None
        if tables is None and self.system_map is not None:
            tables = KallsymsTables.from_symbols({name: addr for name, addr, _letter in self.system_map})
        if tables is not None:
            return tables
        if not self.vmcoreinfo:
            raise KallsymsError("the dump has no VMCOREINFO: without a vmlinux its kernel symbols cannot be found")
        raise KallsymsError(
            "the dump's VMCOREINFO does not name the kernel's kallsyms tables (a kernel before 6.0): "
            "give its vmlinux or System.map"
        )

    @cached_property
    def kallsyms(self) -> Kallsyms:
        """The kernel's own symbol table: decoded from the dump (the tables VMCOREINFO names, since 6.0,
        or a System.map does), pages the dump lacks from a stripped kernel image; from that image alone
        when the dump's copy does not decode; a System.map's own lines as the last resort.
        KallsymsError in one line when none of them serves."""
        from crashpy.symbols.kallsyms import Kallsyms, KallsymsError, decode, load_cached, save_cached

        try:
            tables = self._kallsyms_tables()
            cache = self._kallsyms_cache_file()
            found = load_cached(cache)
            if found is not None:
                self.kallsyms_source = "dump"
                return found
            try:
                found = decode(self.read_image, tables)
                self.kallsyms_source = "dump"
                save_cached(cache, found)  # only what the dump itself gave
            except KallsymsError:
                if self.stripped_image is None:
                    raise
                found = decode(self._image_reader(tables), tables)
                self.kallsyms_source = "image"
            return found
        except KallsymsError:
            if not self.system_map:
                raise
        rows = sorted(self.system_map, key=lambda r: r[1])
        self.kallsyms_source = "System.map"
        return Kallsyms([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def _kallsyms_cache_file(self) -> Path:
        """Where the kallsyms decoded from this dump file are kept: keyed by its VMCOREINFO (the build
        and where it was loaded) and the file itself (a cut copy of a dump decodes differently)."""
        from crashpy.symbols.kallsyms import cache_file

        try:
            st = os.stat(self.dump_path)
            stamp = f"{os.path.realpath(self.dump_path)}:{st.st_size}:{st.st_mtime_ns}".encode()
        except OSError:
            stamp = b""
        return cache_file((self.dump.info.vmcoreinfo or b"") + b"\0" + stamp, "kallsyms")

    def _image_reader(self, tables: KallsymsTables) -> Callable[[int, int], bytes]:
        """read(address, size) of the stripped image alone, for decoding its copy of kallsyms (without
        relocations, kallsyms_relative_base is read as the running kernel's: moved by KASLR)."""
        image = self.stripped_image
        assert image is not None
        offset = self.kaslr_offset

        def read(addr: int, size: int) -> bytes:
            data = image.read((addr - offset) & MASK64, size, offset, exact=False)  # the tables hold no pointers
            if data is None:
                raise FaultError(addr, FaultKind.NOT_PRESENT, AddressSpace.KVADDR, "kernel image file")
            if addr == tables.relative_base and size == 8 and image.relocations is None and offset:
                data = ((int.from_bytes(data, "little") + offset) & MASK64).to_bytes(8, "little")
            return data

        return read

    def symbol(self, name: str) -> Symbol:
        """The symbol `name`, or SymbolError in crash's words."""
        sym = self.symbols.lookup(name)
        if sym is None:
            raise SymbolError(f"symbol not found: {name}")
        return sym

    def symbol_address(self, name: str) -> int:
        return self.symbol(name).address

    def has_symbol(self, name: str) -> bool:
        return self.symbols.lookup(name) is not None

    # ---- types -----------------------------------------------------------------------------------------

    @cached_property
    def _btf(self) -> BTF | None:
        from crashpy.types.btf import load_btf_from_elf

        if self.image is not None:
            return load_btf_from_elf(self.image)
        return self._memory_btf()

    def _memory_btf(self) -> BTF | None:
        """The kernel's BTF as it lies in memory, between __start_BTF and __stop_BTF (CONFIG_DEBUG_INFO_BTF),
        or None when the kernel has none."""
        from crashpy.types.btf import BTFFormatError

        start, stop = self.symbols.lookup("__start_BTF"), self.symbols.lookup("__stop_BTF")
        if start is None or stop is None or not 0 < stop.address - start.address < 1 << 30:
            return None
        from crashpy.symbols.kallsyms import cache_file
        from crashpy.types.btf import indexed_btf

        index_path = cache_file(self.dump.info.vmcoreinfo or b"", "btf-index")
        try:
            return indexed_btf(self.read_image(start.address, stop.address - start.address), index_path)
        except FaultError as e:
            raise CommandError(f"no type information: the kernel's BTF cannot be read: {e.message()}") from None
        except BTFFormatError as e:
            raise CommandError(f"no type information: the kernel's BTF does not decode: {e}") from None

    @property
    def btf(self) -> BTF:
        """The kernel's BTF (loaded once; its absence is remembered too)."""
        btf = self._btf
        if btf is None:
            if getattr(self, "image", None) is None:
                raise CommandError("no type information: the kernel has no BTF (CONFIG_DEBUG_INFO_BTF) and no vmlinux was given")
            raise CommandError("no type information: vmlinux has no .BTF section")
        return btf

    @cached_property
    def module_btf(self) -> ModuleBTFs:
        """The loaded modules' BTF (CONFIG_DEBUG_INFO_BTF_MODULES), read from the dump when a type
        look-up first misses in the kernel's types (crashpy.module_btf)."""
        from crashpy.module_btf import ModuleBTFs

        return ModuleBTFs(self)

    def sizeof(self, name: str) -> int:
        """sizeof(struct/union/typedef `name`)."""
        return int(self.btf.sizeof(name))

    def offsetof(self, struct_name: str, member: str) -> int:
        """offsetof(struct `struct_name`, `member`) in bytes; `member` may be a dotted path."""
        return int(self.btf.offsetof(struct_name, member))

    def has_member(self, struct_name: str, member: str) -> bool:
        """Whether struct `struct_name` has `member` (a dotted path) at a byte offset. Only "no such
        type/member" answers False; anything else (no BTF at all, corrupt BTF) is raised."""
        from crashpy.types.model import TypeLookupError

        try:
            self.btf.offsetof(struct_name, member)
        except TypeLookupError:
            return False
        return True

    # ---- address translation ------------------------------------------------------------------------

    @cached_property
    def phys_base(self) -> int:
        if self._phys_base_override is not None:
            return self._phys_base_override
        v = self.vmcoreinfo.number("phys_base")
        if v is not None:
            return v
        return self._auto_phys_base if self._auto_phys_base is not None else 0

    def _image_variable(self, name: str, size: int = 8) -> int | None:
        """The value of the kernel-image variable `name` (read through the text map, which needs no page
        tables), or None when the kernel has no such symbol or its page cannot be read."""
        try:
            sym = self.symbols.lookup(name)
        except CrashpyError:  # no vmlinux, and kallsyms not found: the layout's defaults
            return None
        if sym is None:
            return None
        try:
            raw = self.read_image(sym.address, size)
        except FaultError:
            return None
        return int.from_bytes(raw, "little")

    @cached_property
    def five_level(self) -> bool:
        """Whether the kernel runs 5-level page tables (LA57): VMCOREINFO says since v4.14; else the
        kernel's __pgtable_l5_enabled, its pgdir_shift, or the LA57 bit of the CPUs' saved CR4."""
        from crashpy.arch.kaslr import X86_CR4_LA57, qemu_cr4

        number = self.vmcoreinfo.number("pgtable_l5_enabled")
        if number is not None:
            return bool(number)
        enabled = self._image_variable("__pgtable_l5_enabled", 4)
        if enabled is not None:
            return bool(enabled)
        shift = self._image_variable("pgdir_shift", 4)
        if shift is not None:
            return shift == 48
        return any(cr4 & X86_CR4_LA57 for cr4 in qemu_cr4(self.dump.info.notes))

    @cached_property
    def layout(self) -> Layout:
        """Where the kernel's regions lie, from its own variables (page_offset_base, vmalloc_base,
        vmemmap_base move with CONFIG_RANDOMIZE_MEMORY) and VMCOREINFO's KERNEL_IMAGE_SIZE."""
        page_offset_base = self._image_variable("page_offset_base")
        page_offset = self._page_offset_override
        if page_offset is None:
            page_offset = page_offset_base
        return make_layout(
            self.five_level,
            page_offset=page_offset,
            vmalloc_start=self._image_variable("vmalloc_base"),
            vmemmap_start=self._image_variable("vmemmap_base"),
            kernel_image_size=self.vmcoreinfo.number("KERNEL_IMAGE_SIZE"),
            relocatable=page_offset_base is not None or self.kaslr_offset != 0,
        )

    @cached_property
    def physical(self) -> PhysicalMemory:
        return PhysicalMemory(self.dump, self._zero_excluded)

    @property
    def zero_excluded(self) -> bool:
        """crash's --zero_excluded / `set zero_excluded on`: pages makedumpfile left out read as zeros."""
        return self.physical.zero_excluded if "physical" in self.__dict__ else self._zero_excluded

    @zero_excluded.setter
    def zero_excluded(self, value: bool) -> None:
        self._zero_excluded = value
        if "physical" in self.__dict__:
            self.physical.zero_excluded = value

    @cached_property
    def kernel_pgd(self) -> int:
        """The physical address of the kernel's top page table (init_top_pgt)."""
        pgd_sym = self.vmcoreinfo.symbol("init_top_pgt")
        if pgd_sym is None and self.image is not None:
            sym = self.symbols.lookup("init_top_pgt") or self.symbols.lookup("init_level4_pgt")
            pgd_sym = sym.address if sym else None
        return (pgd_sym - START_KERNEL_MAP + self.phys_base) & MASK64 if pgd_sym is not None else 0

    @cached_property
    def kernel(self) -> KernelMemory:
        """The kernel's virtual address space (pages the dump lacks of the kernel's read-only sections
        from the stripped kernel image, when one was given)."""
        memory = KernelMemory(self.physical, self.layout, self.kernel_pgd, self.phys_base)
        if self.stripped_image is not None:
            memory.fallback = self._image_fallback
        return memory

    def user_memory(self, pgd: int) -> UserMemory:
        """The user space whose top page table is at kernel virtual address `pgd` (mm->pgd)."""
        spaces: dict[int, UserMemory] = self.__dict__.setdefault("_user_spaces", {})
        space = spaces.get(pgd)
        if space is None:
            if len(spaces) >= USER_SPACES_KEPT:
                spaces.clear()
            space = spaces[pgd] = UserMemory(self.physical, self.layout, self.kvtop(pgd))
        return space

    def kvtop(self, addr: int) -> int:
        return self.kernel.to_phys(addr)

    def is_kvaddr(self, addr: int) -> bool:
        """Whether `addr` is a kernel virtual address (crash's IS_KVADDR); without a readable kernel
        layout (no page tables: a damaged dump), any address of the upper half of 4-level paging."""
        try:
            layout = self.layout
        except CrashpyError:
            return addr >= 0xFFFF800000000000
        return layout.is_kvaddr(addr)

    # ---- memory ----------------------------------------------------------------------------------------

    def read_physical(self, paddr: int, size: int) -> bytes:
        """The dump's bytes at `paddr`; with zero_excluded on, excluded pages read as zeros."""
        return self.physical.read(paddr, size)

    def read(self, addr: int, size: int, space: AddressSpace = AddressSpace.KVADDR, what: str = "") -> bytes:
        """Read `size` bytes at `addr` in `space`; FaultError names the first unreadable address."""
        if space is AddressSpace.KVADDR:
            return self.kernel.read(addr, size, what)
        if space is AddressSpace.PHYSADDR:
            try:
                return self.physical.read(addr, size)
            except FaultError as e:
                raise e.with_context(e.address, AddressSpace.PHYSADDR, what) from None
        raise FaultError(addr, FaultKind.INVALID, space, what)

    def read_partial(self, addr: int, size: int, what: str = "") -> Partial:
        """The kernel bytes at `addr` that can be read, zeros elsewhere, and where the faults are."""
        return self.kernel.read_partial(addr, size, what)

    def crash_reads_zeros(self, fault: FaultError) -> bool:
        """Whether crash reads the page of `fault` as zeros: the pages makedumpfile -E leaves out of an
        ELF dump (p_filesz < p_memsz).  crashpy never hands those zeros out as data; commands that must
        print what crash prints use this to tell such a page from one that is really missing."""
        from crashpy.dumpfile.elf import ElfDump

        return fault.kind is FaultKind.EXCLUDED and isinstance(self.dump, ElfDump)

    def read_u8(self, addr: int) -> int:
        return self.read(addr, 1)[0]

    def read_u16(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 2), "little")

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def read_s64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little", signed=True)

    def read_cstring(self, addr: int, maxlen: int = 4096) -> bytes:
        """The NUL-terminated string at `addr` (without the NUL), read page by page."""
        out = bytearray()
        cur = addr
        while len(out) < maxlen:
            chunk = min(maxlen - len(out), PAGE_SIZE - (cur & (PAGE_SIZE - 1)))
            data = self.read(cur, chunk)
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
            cur += chunk
        return bytes(out)

    def read_symbol(self, name: str, size: int) -> bytes:
        return self.read(self.symbol_address(name), size)

    # ---- per-cpu ---------------------------------------------------------------------------------------

    @cached_property
    def nr_cpus(self) -> int:
        n = self.dump.info.nr_cpus
        return n if n else 1

    @cached_property
    def percpu_offsets(self) -> list[int]:
        """__per_cpu_offset[cpu] of every CPU that has a per-CPU area (unused slots hold __per_cpu_load)."""
        base = self.symbol_address("__per_cpu_offset")
        nr = self.vmcoreinfo.length("__per_cpu_offset") or 8192
        load = self.symbols.lookup("__per_cpu_load")
        unused = {0, load.address if load is not None else 0}
        raw = self.read(base, 8 * min(nr, 8192))
        offs: list[int] = []
        for cpu in range(min(nr, 8192)):
            v = int.from_bytes(raw[cpu * 8 : cpu * 8 + 8], "little")
            if v in unused and cpu > 0:
                break
            offs.append(v)
        return offs

    def percpu_address(self, sym_addr: int, cpu: int) -> int:
        return (sym_addr + self.percpu_offsets[cpu]) & MASK64

    def cache(self, key: str, factory: Any) -> Any:
        """A per-program cache for helpers: factory() is called once per key."""
        store: dict[str, Any] = self.__dict__.setdefault("_helper_cache", {})
        if key not in store:
            store[key] = factory()
        return store[key]

    def remember(self, key: str, arg: Hashable, compute: Callable[[], _T]) -> _T:
        """compute()'s answer for `arg`, kept per program under `key` (a helper's answer per address:
        the dump never changes).  A compute() that raises is not remembered."""
        store: dict[Hashable, _T] = self.cache(key, dict)
        if arg in store:
            return store[arg]
        value = compute()
        if len(store) >= REMEMBER_LIMIT:
            del store[next(iter(store))]  # the oldest answer: a session of many commands stays bounded
        store[arg] = value
        return value
