"""crash's view of the symbol table (ordering, filtering, look-ups) and sym's lines, without a dump."""

from __future__ import annotations

from dataclasses import dataclass, field

from crashpy.commands.sym import format_symbol
from crashpy.elf import Section
from crashpy.symbols.crash_view import CrashSymtab

TEXT = 0xFFFFFFFF81000000
DATA = 0xFFFFFFFF82A00000
SECTIONS = [
    Section("", 0, 0, 0, 0, 0, 0, 0),
    Section(".text", 1, 0x6, TEXT, 0x1000, 0x100000, 0, 0),
    Section(".data", 1, 0x3, DATA, 0x200000, 0x10000, 0, 0),
    Section(".data..percpu", 1, 0x3, 0, 0x300000, 0x4000, 0, 0),
    Section(".bss", 8, 0x3, DATA + 0x10000, 0x400000, 0x1000, 0, 0),
]
GLOBAL, LOCAL, WEAK = 1, 0, 2
FUNC, OBJECT, NOTYPE, SECTION, FILE = 2, 1, 0, 3, 4


@dataclass
class FakeSymtab:
    entries: list[tuple[int, int, int, int, int, int]]
    strtab: bytes

    def rows(self) -> list[tuple[int, int, int, int, int, int]]:
        return self.entries


@dataclass
class FakeImage:
    syms: list[tuple[str, int, int, int, int]]  # name, bind, type, shndx, value
    sections: list[Section] = field(default_factory=lambda: SECTIONS)

    @property
    def symtab(self) -> FakeSymtab:
        strtab = b"\0"
        entries = [(0, 0, 0, 0, 0, 0)]
        for name, bind, typ, shndx, value in self.syms:
            off = len(strtab) if name else 0
            if name:
                strtab += name.encode() + b"\0"
            entries.append((off, bind << 4 | typ, 0, shndx, value, 0))
        return FakeSymtab(entries, strtab)


@dataclass
class FakeProg:
    image: FakeImage
    kaslr_offset: int = 0


SYMS = [
    ("", LOCAL, SECTION, 1, TEXT),  # BFD names section symbols after their section
    ("", LOCAL, SECTION, 2, DATA),
    ("main.c", LOCAL, FILE, 0xFFF1, 0),
    ("__per_cpu_start", GLOBAL, NOTYPE, 3, 0),
    ("fixed_percpu_data", GLOBAL, OBJECT, 3, 0),
    ("runqueues", LOCAL, OBJECT, 3, 0x100),
    ("__per_cpu_end", GLOBAL, NOTYPE, 3, 0x4000),
    ("sp_offset", LOCAL, NOTYPE, 0xFFF1, 0),
    ("startup_64", GLOBAL, FUNC, 1, TEXT),
    ("_text", GLOBAL, NOTYPE, 1, TEXT),
    ("_stext", GLOBAL, NOTYPE, 1, TEXT),
    ("do_thing.isra.0", LOCAL, FUNC, 1, TEXT + 0x100),
    ("helper.constprop.0", LOCAL, FUNC, 1, TEXT + 0x200),
    ("dup", LOCAL, FUNC, 1, TEXT + 0x300),
    ("dup", LOCAL, FUNC, 1, TEXT + 0x400),
    ("weak_fn", WEAK, FUNC, 1, TEXT + 0x500),
    ("jiffies", GLOBAL, OBJECT, 2, DATA + 0x900),
    ("local_data", LOCAL, OBJECT, 2, DATA + 0xA00),
    ("big_buf", GLOBAL, OBJECT, 4, DATA + 0x10000),
    ("_end", GLOBAL, NOTYPE, 4, DATA + 0x11000),
]


def table(offset: int = 0) -> CrashSymtab:
    return CrashSymtab(FakeProg(FakeImage(SYMS), offset))  # type: ignore[arg-type]


def test_order_filter_and_letters() -> None:
    t = table()
    listed = [(s.value, s.type, s.name) for s in t]
    assert listed == [
        (0, "D", "__per_cpu_start"),
        (0, "D", "fixed_percpu_data"),
        (0x100, "d", "runqueues"),
        (0x4000, "D", "__per_cpu_end"),
        # `.text` sorts before `_stext`, so it comes before crash starts taking kernel symbols
        (TEXT, "T", "_stext"),
        (TEXT, "T", "_text"),
        (TEXT, "T", "startup_64"),
        (TEXT + 0x100, "t", "do_thing"),
        (TEXT + 0x200, "t", "helper.constprop.0"),
        (TEXT + 0x300, "t", "dup"),
        (TEXT + 0x400, "t", "dup"),
        (TEXT + 0x500, "W", "weak_fn"),
        (DATA, "d", ".data"),
        (DATA + 0x900, "D", "jiffies"),
        (DATA + 0xA00, "d", "local_data"),
        (DATA + 0x10000, "B", "big_buf"),
        (DATA + 0x11000, "B", "_end"),
    ]


def test_value_search() -> None:
    t = table()
    assert t.value_to_symstr(TEXT) == "_stext"  # the first symbol of an address (fresh table)
    assert t.value_to_symstr(TEXT + 5) == "startup_64+5"  # the last one of the address below
    assert t.value_to_symstr(TEXT + 5, 16) == "startup_64+0x5"
    assert t.value_to_symstr(DATA + 0x904) == "jiffies+4"
    assert t.value_to_symstr(0x100) == ""  # per-cpu offsets are not addresses
    assert t.value_to_symstr(DATA + 0x20000) == ""  # past the last symbol
    assert t.is_kernel_text(TEXT + 0x10) and not t.is_kernel_text(DATA)


def test_exact_lookup_follows_crashs_hash_memory() -> None:
    t = table()
    # _stext, _text and startup_64 share an address: a fresh look-up gives the first ...
    assert t.value_to_symstr(TEXT) == "_stext"
    # ... but once a look-up inside the last one has been made, crash starts from there
    assert t.value_to_symstr(TEXT + 8) == "startup_64+8"
    assert t.value_to_symstr(TEXT) == "startup_64"
    assert t.value_to_symstr(TEXT + 0x100) == "do_thing"


def test_name_lookups() -> None:
    t = table()
    first = t.search("dup")
    assert first is not None and first.value == TEXT + 0x300
    assert t.name_count("dup") == 2
    second = t.search_next("dup", first)
    assert second is not None and second.value == TEXT + 0x400
    assert t.value_of("do_thing") == TEXT + 0x100 and t.value_of("do_thing.isra.0") is None
    assert [s.name for s in t.query("per_cpu")] == ["__per_cpu_start", "__per_cpu_end"]
    sym = t.search("startup_64")
    assert sym is not None
    nxt = t.next_symbol(sym)
    prev = t.prev_symbol(sym)
    assert nxt is not None and nxt.name == "do_thing" and prev is not None and prev.name == "_text"


def test_kaslr_relocation() -> None:
    t = table(0x1000000)
    assert t.value_of("startup_64") == TEXT + 0x1000000
    assert t.value_of("runqueues") == 0x100  # per-cpu offsets stay put


def test_format_symbol() -> None:
    t = table()
    sym = t.search("startup_64")
    assert sym is not None
    assert format_symbol(sym) == "ffffffff81000000 (T) startup_64"
    assert format_symbol(sym, 5) == "ffffffff81000005 (T) startup_64+5"
    assert format_symbol(sym, 5, 16) == "ffffffff81000005 (T) startup_64+0x5"
    pc = t.search("__per_cpu_start")
    assert pc is not None and format_symbol(pc) == "0 (D) __per_cpu_start"


def test_look_ups_by_name_before_and_after_the_index() -> None:
    """The first look-ups scan the names, later ones use the index: the same first symbol either way."""
    t = table()
    first = [t.search(name) for name in ("dup", "jiffies", "nosuch")]
    for _ in range(CrashSymtab._SCANS_BEFORE_INDEX):
        t.search("jiffies")
    assert t._first_by_name is not None  # built by now
    assert [t.search(name) for name in ("dup", "jiffies", "nosuch")] == first
    assert first[0] is not None and first[0].value == TEXT + 0x300
    assert t.exists("dup") and not t.exists("nosuch")
    assert t.name_count("dup") == 2
