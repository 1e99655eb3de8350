"""Kernel images without symbols (elf/bzimage.py): bzImage decompression in every compression the x86
build offers, the stripped ELF inside, the disk cache; `crashpy vmlinuz vmcore` on the test dumps."""

from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from crashpy.elf.bzimage import (
    ImageError,
    KernelImage,
    compression,
    decompress_payload,
    is_stripped_kernel,
    open_kernel_image,
)
from crashpy.elf.file import ElfFile

ROOT = Path(__file__).resolve().parent.parent
# Where the test dumps are: read before the tests point CRASHPY_CACHE at their own directory.
DUMPS_CACHE = Path(os.environ.get("CRASHPY_CACHE") or Path.home() / ".cache" / "crashpy")
TEXT = 0xFFFFFFFF81000000
BANNER = b"Linux version 6.1.0-99-test (builder@example) (gcc 12) #1 SMP PREEMPT_DYNAMIC\n"
DECOY = b"Linux version %s\0"  # a format string before it, as linux_proc_banner is
BANNER_AT = TEXT + 0x1000 + len(DECOY)


# ---- small synthetic kernels ------------------------------------------------------------------------------


def tiny_kernel(banner: bytes = BANNER, build_id: bytes = b"\x11" * 20, relocs: bytes = b"") -> bytes:
    """A minimal x86_64 kernel ELF: .text and .rodata (holding `banner`) in one R E PT_LOAD, a .data in
    a RW one, .notes with a GNU build-id; then `relocs` (a bzImage's vmlinux.relocs)."""
    text = b"\x55\x48\x89\xe5" + b"\x48\xc7\xc7" + struct.pack("<I", 0x81001000) + b"\x5d\xc3"
    text = text.ljust(0x1000, b"\xcc")
    rodata = (DECOY + banner + b"\0").ljust(0x100, b"\0")
    note = struct.pack("<III", 4, len(build_id), 3) + b"GNU\0" + build_id
    data = b"\x42" * 0x100
    shstr = b"\0.text\0.rodata\0.notes\0.data\0.shstrtab\0"
    off_text, off_ro = 0x1000, 0x2000
    off_note = off_ro + len(rodata)
    off_data = 0x3000
    off_shstr = off_data + len(data)
    shoff = (off_shstr + len(shstr) + 7) & ~7
    body = bytearray(shoff)
    body[off_text : off_text + len(text)] = text
    body[off_ro : off_ro + len(rodata)] = rodata
    body[off_note : off_note + len(note)] = note
    body[off_data : off_data + len(data)] = data
    body[off_shstr : off_shstr + len(shstr)] = shstr
    ehdr = b"\x7fELF\x02\x01\x01" + bytes(9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, TEXT, 64, shoff, 0, 64, 56, 2, 64, 6, 5)
    body[0:64] = ehdr
    ro_end = off_note + len(note)
    body[64:120] = struct.pack("<IIQQQQQQ", 1, 5, off_text, TEXT, 0x1000000, ro_end - off_text, ro_end - off_text, 0x1000)
    body[120:176] = struct.pack("<IIQQQQQQ", 1, 6, off_data, TEXT + 0x2000, 0x1002000, len(data), len(data), 0x1000)

    def shdr(name: int, typ: int, flags: int, addr: int, off: int, size: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, typ, flags, addr, off, size, 0, 0, 1, 0)

    sections = [
        bytes(64),
        shdr(1, 1, 6, TEXT, off_text, len(text)),
        shdr(7, 1, 2, TEXT + 0x1000, off_ro, len(rodata)),
        shdr(15, 7, 2, TEXT + 0x1000 + len(rodata), off_note, len(note)),
        shdr(22, 1, 3, TEXT + 0x2000, off_data, len(data)),
        shdr(28, 3, 0, 0, off_shstr, len(shstr)),
    ]
    return bytes(body) + b"".join(sections) + relocs


def size_appended(data: bytes, original: bytes) -> bytes:
    return data + struct.pack("<I", len(original) & 0xFFFFFFFF)


def lz4_legacy(data: bytes) -> bytes:
    import cramjam

    out = bytearray(struct.pack("<I", 0x184C2102))
    for at in range(0, len(data), 8 << 20):
        block = bytes(cramjam.lz4.compress_block(data[at : at + (8 << 20)], store_size=False))
        out += struct.pack("<I", len(block)) + block
    return bytes(out)


def lzop(data: bytes) -> bytes:
    """lzop's file format (version 0x1040, LZO1X, no checksums), one block per 256 KiB."""
    import lzallright

    codec = lzallright.LZOCompressor()
    head = b"\x89LZO\x00\r\n\x1a\n" + struct.pack(">HHHBBI", 0x1040, 0x2080, 0x0940, 1, 9, 0)
    head += struct.pack(">III", 0o100644, 0, 0) + b"\x00" + struct.pack(">I", 0)
    out = bytearray(head)
    for at in range(0, len(data), 256 << 10):
        chunk = data[at : at + (256 << 10)]
        packed = bytes(codec.compress(chunk))
        if len(packed) >= len(chunk):
            packed = chunk
        out += struct.pack(">II", len(chunk), len(packed)) + packed
    return bytes(out + struct.pack(">I", 0))


def compress(kind: str, data: bytes) -> bytes:
    import cramjam

    if kind == "gzip":
        return gzip.compress(data, mtime=0)  # its trailer is the size
    packed = {
        "bzip2": lambda: bz2.compress(data),
        "lzma": lambda: lzma.compress(data, format=lzma.FORMAT_ALONE),
        "xz": lambda: lzma.compress(
            data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=[{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2}]
        ),
        "lzo": lambda: lzop(data),
        "lz4": lambda: lz4_legacy(data),
        "zstd": lambda: bytes(cramjam.zstd.compress(data)),
        "none": lambda: data,
    }[kind]()
    return packed if kind == "none" else size_appended(packed, data)


def bzimage(payload: bytes, version: int = 0x20F, setup_sects: int = 3) -> bytes:
    """A file shaped like a bzImage: boot sector and setup sectors (the header), then the protected-mode
    part holding `payload` 0x40 bytes in."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x1FE:0x200] = b"\x55\xaa"
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<II", setup, 0x248, 0x40, len(payload))
    return bytes(setup) + b"\x90" * 0x40 + payload + b"\0" * 0x100


KINDS = ("gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd", "none")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("kind", KINDS)
def test_every_compression(kind: str, tmp_path: Path) -> None:
    kernel = tiny_kernel()
    path = tmp_path / f"vmlinuz-{kind}"
    path.write_bytes(bzimage(compress(kind, kernel)))
    image = open_kernel_image(str(path))
    try:
        assert image.compression == kind
        assert image.elf.buf[: len(kernel)] == kernel
        assert image.banner() == (BANNER_AT, BANNER)
        assert image.release() == "6.1.0-99-test"
        assert image.build_id == "11" * 20
        assert image.read(TEXT, 4) == b"\x55\x48\x89\xe5"
        assert image.read(TEXT + 0x2000, 8) is None  # .data changes at run time: never from the file
        assert image.read(TEXT + 0xFFE, 8) == kernel[0x1FFE:0x2006]  # .text and .rodata adjoin
        assert image.read(TEXT + 0x1000 + 0x100 + 0x20, 8) is None  # past the end of .notes
    finally:
        image.close()
    # the second start maps what the first one kept
    again = open_kernel_image(str(path))
    try:
        assert again.compression == kind
        assert isinstance(again.elf.buf, mmap.mmap)
    finally:
        again.close()
    kept = list((tmp_path / "cache" / "vmlinuz").glob("*.elf"))
    assert len(kept) == 1 and kept[0].name.endswith(f"-{kind}.elf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", f"vmlinuz-{kind}"]  # nothing beside it


def test_relocations_applied(tmp_path: Path) -> None:
    # vmlinux.relocs: a zero, 64-bit sites, a zero, inverse 32-bit sites, a zero, 32-bit sites
    site = TEXT + 7  # the imm32 of `mov $0xffffffff81001000, %rdi`
    relocs = struct.pack("<IIII", 0, 0, 0, site & 0xFFFFFFFF)
    kernel = tiny_kernel(relocs=relocs)
    path = tmp_path / "vmlinuz"
    path.write_bytes(bzimage(compress("gzip", kernel)))
    image = open_kernel_image(str(path), disk_cache=False)
    assert image.relocations is not None and image.relocations.add32 == [site]
    assert image.read(site, 4, 0) == struct.pack("<I", 0x81001000)
    assert image.read(site, 4, 0x2A000000) == struct.pack("<I", 0xAB001000)
    assert image.read(site + 2, 4, 0x2A000000) == struct.pack("<H", 0xAB00) + b"\x5d\xc3"  # a part of it


def test_corrupt_and_truncated(tmp_path: Path) -> None:
    kernel = tiny_kernel()
    good = bzimage(compress("xz", kernel))
    cut = tmp_path / "cut"
    cut.write_bytes(good[:1500])
    with pytest.raises(ImageError, match="truncated bzImage") as e:
        open_kernel_image(str(cut))
    assert "\n" not in str(e.value)
    payload = bytearray(compress("gzip", kernel))
    payload[len(payload) // 2] ^= 0xFF
    bad = tmp_path / "bad"
    bad.write_bytes(bzimage(bytes(payload)))
    with pytest.raises(ImageError, match="does not decompress|corrupt"):
        open_kernel_image(str(bad))
    wrong = tmp_path / "wrong"
    wrong.write_bytes(bzimage(compress("lz4", kernel)[:-4] + struct.pack("<I", 12345)))
    with pytest.raises(ImageError, match="the image says 12345"):
        open_kernel_image(str(wrong))
    unknown = tmp_path / "unknown"
    unknown.write_bytes(bzimage(b"\x01\x02\x03\x04\x05\x06" * 10))
    with pytest.raises(ImageError, match="unknown compression"):
        open_kernel_image(str(unknown))
    old = tmp_path / "old"
    old.write_bytes(bzimage(compress("gzip", kernel), version=0x207))
    with pytest.raises(ImageError, match=r"boot protocol 2\.07"):
        open_kernel_image(str(old))
    assert compression(b"BZh91AY") == "bzip2" and compression(b"nothing") is None
    with pytest.raises(ImageError, match="not an ELF file"):
        decompress_payload(size_appended(bz2.compress(b"plain text"), b"plain text"), "x")


def test_stripped_elf_and_classify(tmp_path: Path) -> None:
    from crashpy.loader import classify

    stripped = tmp_path / "vmlinux-stripped"
    stripped.write_bytes(tiny_kernel())
    with ElfFile(stripped) as elf:
        assert is_stripped_kernel(elf)
    image = open_kernel_image(str(stripped))
    assert image.compression is None and image.relocations is None
    assert image.read(BANNER_AT, 13) == b"Linux version"
    image.close()
    vmlinuz = tmp_path / "vmlinuz"
    vmlinuz.write_bytes(bzimage(compress("zstd", tiny_kernel())))
    inputs = classify([str(stripped)])
    assert inputs.image == str(stripped) and inputs.vmlinux is None
    assert classify([str(vmlinuz)]).image == str(vmlinuz)
    assert not list(tmp_path.glob("cache/vmlinuz/*"))  # classifying decompresses nothing


def test_exclude_splits_ranges() -> None:
    image = KernelImage(ElfFile.from_bytes(tiny_kernel()), "x", None)
    start = TEXT + 0x1000
    image.exclude(start + 0x10, start + 0x20)
    assert image.read(start + 0x10, 1) is None and image.read(start + 0x1F, 1) is None
    assert image.read(start + 0x20, 4) == tiny_kernel()[0x2020:0x2024]
    assert image.read(start, 0x10) is not None


# ---- the real kernel of the test dumps -----------------------------------------------------------------


def _paths(*names: str) -> dict[str, Path]:
    """The test dumps `names` and the kernel's files, where tools/vmcores.py puts them (never built
    here: the session's start builds them; a test skips when they are not there)."""
    sys.path.insert(0, str(ROOT))
    try:
        from tools.vmcores import Builder

        found = Builder(DUMPS_CACHE).outputs(names)
    except Exception as e:  # noqa: BLE001 - no test dumps here: skip
        pytest.skip(f"test dumps unavailable: {e}")
    for name in (*names, "vmlinuz"):
        if not found[name].is_file():
            pytest.skip(f"{found[name]} is missing")
    return found


def test_real_vmlinuz_decompresses(tmp_path: Path) -> None:
    from crashpy.dumpfile.sniff import open_dump
    from crashpy.dumpfile.vmcoreinfo import VmcoreInfo

    paths = _paths("sysrq.elf")
    image = open_kernel_image(str(paths["vmlinuz"]))
    try:
        assert image.compression in ("gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd")
        assert image.elf.e_machine == 62 and image.elf.symtab is None
        assert image.elf.section(".text") is not None and image.elf.section(".rodata") is not None
        assert image.relocations is not None and len(image.relocations) > 1000
        with open_dump(str(paths["sysrq.elf"])) as dump:
            info = VmcoreInfo(dump.info.vmcoreinfo)
        assert image.release() == info.osrelease
        assert image.build_id == info.build_id
    finally:
        image.close()


def _faulty(dump: object, bad: list[tuple[int, int]], kind: str = "excluded") -> object:
    """`dump` with the physical ranges `bad` missing (FaultError EXCLUDED), or read as zeros ("zeros")."""
    from crashpy.errors import AddressSpace, FaultError, FaultKind

    class Faulty:
        def __getattr__(self, name: str) -> object:
            return getattr(dump, name)

        def read(self, paddr: int, size: int) -> bytes:
            for lo, hi in bad:
                if paddr < hi and lo < paddr + size:
                    if kind == "zeros":
                        return bytes(size)
                    raise FaultError(max(paddr, lo), FaultKind.EXCLUDED, AddressSpace.PHYSADDR)
            return dump.read(paddr, size)  # type: ignore[attr-defined]

    return Faulty()


def test_missing_pages_from_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crashpy.dumpfile.sniff import open_dump
    from crashpy.errors import FaultError
    from crashpy.program import Program

    paths = _paths("kaslr.elf")
    # kallsyms decoded from the whole file is kept on disk for that file: the cut-down stand-ins below
    # must decode their own
    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path / "cache"))
    vmlinuz = str(paths["vmlinuz"])
    dump = open_dump(str(paths["kaslr.elf"]))
    whole = Program(dump, None)
    ks = whole.kallsyms
    where = dict(zip(ks.names, ks.addresses, strict=True))
    names = whole.vmcoreinfo.symbol("kallsyms_names")
    assert names is not None
    func = where["schedule"]

    def phys(addr: int) -> int:
        return addr - 0xFFFFFFFF80000000 + whole.phys_base

    missing = [
        (phys(names) & ~0xFFF, (phys(names) & ~0xFFF) + 0x3000),
        (phys(func) & ~0xFFF, (phys(func) & ~0xFFF) + 0x1000),
        (phys(where["__start_ro_after_init"]), phys(where["__start_ro_after_init"]) + 0x1000),
    ]
    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path / "cache0"))
    lacking = Program(_faulty(dump, missing), None)  # type: ignore[arg-type]
    with pytest.raises(FaultError):
        lacking.read(func, 16)
    with pytest.raises(Exception, match="kallsyms"):
        lacking.kallsyms  # noqa: B018

    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path / "cache1"))
    helped = Program(_faulty(dump, missing), None, stripped_image=vmlinuz)  # type: ignore[arg-type]
    assert helped.kallsyms.names == ks.names and helped.kallsyms.addresses == ks.addresses
    assert helped.kallsyms_source == "dump"
    image = helped.stripped_image
    assert image is not None
    from_file = image.read(func - helped.kaslr_offset, 64, helped.kaslr_offset)
    assert from_file is not None and from_file[0] == 0xE8  # call __fentry__, as linked
    assert helped.read(func, 64) == b"\x0f\x1f\x44\x00\x00" + from_file[5:]  # as ftrace left it
    assert helped.read(func, 32) == whole.read(func, 32)
    # a linux_banner page in .rodata: the file's bytes equal the dump's, relocated or not
    banner = where["linux_banner"]
    assert helped._image_fallback(banner, 64) == whole.read(banner, 64)
    # .data and the __ro_after_init part of .rodata are never taken from the file
    helped.symbols  # noqa: B018 - builds the table, which marks __ro_after_init
    with pytest.raises(FaultError):
        helped.read(where["__start_ro_after_init"], 8)
    assert helped._image_fallback(where["init_task"], 8) is None

    # the dump's kallsyms does not decode (its count reads as zero): decoded from the image alone
    count = whole.vmcoreinfo.symbol("kallsyms_num_syms")
    assert count is not None
    zeroed = [(phys(count) & ~0xFFF, (phys(count) & ~0xFFF) + 0x1000)]
    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path / "cache2"))
    from_image = Program(_faulty(dump, zeroed, "zeros"), None, stripped_image=vmlinuz)  # type: ignore[arg-type]
    assert from_image.kallsyms.addresses == ks.addresses
    assert from_image.kallsyms_source == "image"
    # the same from a stripped vmlinux (no relocation table: kallsyms_relative_base moved by hand)
    stripped = tmp_path / "vmlinux-stripped"
    stripped.write_bytes(bytes(image.elf.buf))
    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path / "cache3"))
    from_elf = Program(_faulty(dump, zeroed, "zeros"), None, stripped_image=str(stripped))  # type: ignore[arg-type]
    assert from_elf.stripped_image is not None and from_elf.stripped_image.relocations is None
    assert from_elf.kallsyms.addresses == ks.addresses and from_elf.kallsyms_source == "image"
    assert from_elf._image_fallback(banner, 64) is None  # a moved kernel's pointers: not without relocations
    dump.close()


def _crashpy(args: list[str], stdin: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CRASHPY_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "crashpy", "-s", "--no_crashrc", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_vmlinuz_and_vmcore(tmp_path: Path) -> None:
    paths = _paths("kaslr.elf")
    vmlinuz, dump = str(paths["vmlinuz"]), str(paths["kaslr.elf"])
    proc = _crashpy([vmlinuz, dump], "sys\ndis schedule 4\n", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    assert "RELEASE: 6.1.0-56-cloud-amd64" in proc.stdout
    assert "<schedule>:" in proc.stdout and "<schedule+" in proc.stdout
    # the dump first, the image second: the same
    again = _crashpy([dump, vmlinuz], "sym schedule\n", tmp_path / "cache")
    assert again.returncode == 0 and "schedule" in again.stdout

    other = tmp_path / "vmlinuz-other"
    other.write_bytes(bzimage(compress("gzip", tiny_kernel())))
    refused = _crashpy([str(other), dump], "sys\n", tmp_path / "cache")
    assert refused.returncode == 1
    assert refused.stderr == f"crashpy: {other} and {dump} do not match!\n"
    cut = tmp_path / "vmlinuz-cut"
    cut.write_bytes(Path(vmlinuz).read_bytes()[:200_000])
    refused = _crashpy([str(cut), dump], "sys\n", tmp_path / "cache")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "truncated bzImage" in refused.stderr


def test_api_open_with_vmlinuz() -> None:
    import crashpy

    paths = _paths("kaslr.elf")
    kernel = crashpy.open(paths["vmlinuz"], paths["kaslr.elf"])
    try:
        assert kernel.image is None and kernel.stripped_image is not None
        assert kernel.symbol("schedule").address == kernel.kallsyms.addresses[kernel.kallsyms.names.index("schedule")]
    finally:
        kernel.close()


def test_two_images_refused(tmp_path: Path) -> None:
    from crashpy.errors import StartupError
    from crashpy.loader import classify

    one, two = tmp_path / "vmlinuz", tmp_path / "vmlinux-stripped"
    one.write_bytes(bzimage(compress("gzip", tiny_kernel())))
    two.write_bytes(tiny_kernel())
    with pytest.raises(StartupError, match="a second kernel image"):
        classify([str(one), str(two)])


def test_moved_kernel_needs_relocations() -> None:
    image = KernelImage(ElfFile.from_bytes(tiny_kernel()), "vmlinux-stripped", None)
    assert image.relocations is None
    assert image.read(TEXT, 4) == b"\x55\x48\x89\xe5"
    assert image.read(TEXT, 4, 0x2A000000) is None  # its pointers cannot be moved: not the kernel's bytes
    assert image.read(TEXT, 4, 0x2A000000, exact=False) == b"\x55\x48\x89\xe5"


def test_unwritable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("CRASHPY_CACHE", str(blocked))
    path = tmp_path / "vmlinuz"
    path.write_bytes(bzimage(compress("xz", tiny_kernel())))
    image = open_kernel_image(str(path))  # kept in memory instead
    assert image.compression == "xz" and not isinstance(image.elf.buf, mmap.mmap)
    assert image.release() == "6.1.0-99-test"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory", "vmlinuz"]


def test_ftrace_sites_read_as_nops() -> None:
    from crashpy.program import _ftrace_nops

    fentry = 0xFFFFFFFF81001000
    addr = 0xFFFFFFFF81000000
    call = b"\xe8" + (fentry - (addr + 5)).to_bytes(4, "little", signed=True)
    other = b"\xe8" + (0x1234).to_bytes(4, "little")
    assert _ftrace_nops(call + b"\x55" + other, addr, fentry) == b"\x0f\x1f\x44\x00\x00\x55" + other
    assert _ftrace_nops(b"\x90" + call[:4], addr - 1, fentry) == b"\x90" + call[:4]  # cut short: left alone


def test_truncated_dump_with_vmlinuz() -> None:
    """sysrq.d31.zlib cut at 40%: most of the kernel image's pages are past the end; without the
    vmlinuz its kallsyms cannot be read at all, with it the symbols and the text are there."""
    from crashpy.dumpfile.sniff import open_dump
    from crashpy.errors import CrashpyError
    from crashpy.program import Program

    paths = _paths("sysrq.d31.zlib.trunc40", "sysrq.elf")
    with open_dump(str(paths["sysrq.elf"])) as whole_dump:
        whole = Program(whole_dump, None)
        schedule = whole.symbol_address("schedule")
        text = whole.read(schedule, 32)
    with open_dump(str(paths["sysrq.d31.zlib.trunc40"])) as dump:
        with pytest.raises(CrashpyError):
            Program(dump, None).symbol_address("schedule")
        prog = Program(dump, None, stripped_image=str(paths["vmlinuz"]))
        assert prog.symbol_address("schedule") == schedule
        assert prog.read(schedule, 32) == text  # the call of __fentry__ read as ftrace's NOP, as in memory
