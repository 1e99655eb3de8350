"""rd's display_memory() layouts and fault handling, on bytes in hand (no dump)."""

from __future__ import annotations

import pytest

from crashpy.commands.rd import (
    ASCII_ENDLINE,
    ASCII_UNLIMITED,
    DECIMAL,
    DISPLAY_8,
    DISPLAY_16,
    DISPLAY_32,
    DISPLAY_64,
    DISPLAY_ASCII,
    HEXADECIMAL,
    NET_ENDIAN,
    SYMBOLIC,
    UDECIMAL,
    Display,
    file_items,
    format_memory,
    items,
)
from crashpy.errors import AddressSpace, FaultError, FaultKind

BANNER = b"Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)\n\0"
ADDR = 0xFFFFFFFF8211FFE0
HEX = HEXADECIMAL | ASCII_ENDLINE


def test_rd_64_with_ascii() -> None:
    assert format_memory(BANNER[:32], ADDR, DISPLAY_64 | HEX) == (
        "ffffffff8211ffe0:  65762078756e694c 2e36206e6f697372   Linux version 6.\n"
        "ffffffff8211fff0:  632d36352d302e31 646d612d64756f6c   1.0-56-cloud-amd\n"
    )
    # a short last line is padded so that the ASCII column lines up
    assert format_memory(BANNER[:8], ADDR, DISPLAY_64 | HEX) == (
        "ffffffff8211ffe0:  65762078756e694c                    Linux ve\n"
    )


def test_rd_32_16_8() -> None:
    assert format_memory(BANNER[:20], ADDR, DISPLAY_32 | HEX) == (
        "ffffffff8211ffe0:  756e694c 65762078 6f697372 2e36206e   Linux version 6.\n"
        "ffffffff8211fff0:  2d302e31                              1.0-\n"
    )
    assert format_memory(BANNER[:18], ADDR, DISPLAY_16 | HEX) == (
        "ffffffff8211ffe0:  694c 756e 2078 6576 7372 6f69 206e 2e36   Linux version 6.\n"
        "ffffffff8211fff0:  2e31                                      1.\n"
    )
    assert format_memory(BANNER[:20], ADDR, DISPLAY_8 | HEX) == (
        "ffffffff8211ffe0:  4c 69 6e 75 78 20 76 65 72 73 69 6f 6e 20 36 2e   Linux version 6.\n"
        "ffffffff8211fff0:  31 2e 30 2d                                       1.0-\n"
    )


def test_rd_without_ascii_and_decimal() -> None:
    data = (2**64 - 2).to_bytes(8, "little") + (7).to_bytes(8, "little")
    assert (
        format_memory(data, 0x1000, DISPLAY_64 | HEXADECIMAL)
        == "            1000:  fffffffffffffffe 0000000000000007 \n"
    )
    assert format_memory(data, 0x1000, DISPLAY_64 | DECIMAL) == (
        "            1000:               -2               7 \n"
    )
    assert format_memory(data, 0x1000, DISPLAY_64 | UDECIMAL) == (
        "            1000:  18446744073709551614                    7 \n"
    )
    assert (
        format_memory(b"\xff\xff\xff\xff", 0x1000, DISPLAY_32 | DECIMAL)
        == "            1000:            -1 \n"
    )
    assert format_memory(b"\xff\xff", 0x1000, DISPLAY_16 | DECIMAL) == "            1000:  65535 \n"
    assert format_memory(b"\xff", 0x1000, DISPLAY_8 | DECIMAL) == "            1000:  255 \n"


def test_rd_network_byte_order() -> None:
    assert format_memory(b"\x01\x02\x03\x04", 0, DISPLAY_32 | HEX | NET_ENDIAN) == (
        "               0:  01020304                              ....\n"
    )
    assert format_memory(b"\x01\x02", 0, DISPLAY_16 | HEX | NET_ENDIAN).startswith("               0:  0102 ")


def test_rd_symbolic() -> None:
    data = (0xFFFFFFFF81000005).to_bytes(8, "little") + (0x1234).to_bytes(8, "little")

    def symstr(v: int) -> str:
        return "startup_64+5" if v == 0xFFFFFFFF81000005 else ""

    assert format_memory(data, ADDR, DISPLAY_64 | HEXADECIMAL | SYMBOLIC, symstr) == (
        "ffffffff8211ffe0:  startup_64+5     0000000000001234 \n"
    )


def _ascii(data: bytes, count: int) -> str:
    def src():  # type: ignore[no-untyped-def]
        for k in range(min(count, len(data))):
            yield ADDR + k, data[k : k + 1]

    return "".join(Display(DISPLAY_ASCII).render(src(), count))


def test_rd_ascii() -> None:
    # without a count rd -a stops at the first unprintable byte, and prints no newline after it
    text = _ascii(BANNER, ASCII_UNLIMITED)
    assert text == (
        "ffffffff8211ffe0:  Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debi\n"
        "ffffffff8212001c:  an.org)"
    )
    # with a count an unprintable byte starts a new line at the next printable one
    assert _ascii(b"ab\0cd", 5) == "ffffffff8211ffe0:  ab\nffffffff8211ffe3:  cd\n"


def _reader(bad_page: int, kind: FaultKind = FaultKind.EXCLUDED):  # type: ignore[no-untyped-def]
    def read(start: int, n: int) -> tuple[bytes, FaultError | None]:
        if start + n <= bad_page:
            return bytes(n), None
        good = max(0, bad_page - start)
        return bytes(good), FaultError(max(start, bad_page), kind, AddressSpace.KVADDR, "64-bit KVADDR")

    return read


def test_rd_fault_after_good_items() -> None:
    base = 0xFFFFFFFF81E00000 - 0x18
    out: list[str] = []
    with pytest.raises(FaultError) as e:
        for piece in Display(DISPLAY_64 | HEX).render(items(_reader(0xFFFFFFFF81E00000), base, 8, 8), 8):
            out.append(piece)
    # crash leaves the unfinished line as it is and names the first unreadable item
    assert "".join(out) == (
        "ffffffff81dfffe8:  0000000000000000 0000000000000000   ................\n"
        "ffffffff81dffff8:  0000000000000000 "
    )
    assert e.value.message() == (
        'page excluded: kernel virtual address: ffffffff81e00000  type: "64-bit KVADDR"'
    )


def test_rd_fault_in_straddling_item_names_the_page() -> None:
    base = 0xFFFFFFFF81E00000 - 4
    with pytest.raises(FaultError) as e:
        list(Display(DISPLAY_64 | HEX).render(items(_reader(0xFFFFFFFF81E00000), base, 2, 8), 2))
    assert e.value.address == 0xFFFFFFFF81E00000


def test_rd_reads_in_spans() -> None:
    calls = []

    def read(start: int, n: int) -> tuple[bytes, FaultError | None]:
        calls.append(n)
        return bytes(n), None

    text = "".join(Display(DISPLAY_64 | HEX).render(items(read, 0, 100000, 8), 100000))
    assert text.count("\n") == 50000
    assert len(calls) < 20


def test_rd_file_offsets_report_each_lost_item(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f"
    path.write_bytes(bytes(range(0x41, 0x41 + 20)))
    source = file_items(str(path), 0, 4, 8, "64-bit FILEADDR")
    text = "".join(Display(DISPLAY_64 | HEX).render(source, 4))
    # crash goes on past an unreadable dump file offset; the ASCII column still comes at the end
    assert text == (
        "               0:  4847464544434241 504f4e4d4c4b4a49 "
        'rd: read error: dumpfile address: 10  type: "64-bit FILEADDR"\n'
        'rd: read error: dumpfile address: 18  type: "64-bit FILEADDR"\n'
        "  ABCDEFGHIJKLMNOP\n"
    )
    lost = "".join(Display(DISPLAY_64 | HEX).render(file_items(str(path), 0x100, 1, 8, "x"), 1))
    assert lost == 'rd: read error: dumpfile address: 100  type: "x"\n'


def test_fast_hex_lines_equal_the_general_path() -> None:
    """The line-at-a-time formatter gives the per-item renderer's text for every plain hex layout."""
    import os

    from crashpy.commands.rd import (
        _LAYOUT,
        ASCII_ENDLINE,
        DISPLAY_8,
        DISPLAY_16,
        DISPLAY_32,
        DISPLAY_64,
        HEXADECIMAL,
        fast_hex_lines,
        format_memory,
    )

    data = os.urandom(4096) + b"Linux version 6.1\x00\x7f\xff" * 8
    for kind in (DISPLAY_64, DISPLAY_32, DISPLAY_16, DISPLAY_8):
        for flag in (kind | HEXADECIMAL | ASCII_ENDLINE, kind | HEXADECIMAL):
            line_bytes = _LAYOUT[kind][0] * _LAYOUT[kind][1]
            whole = data[: len(data) - len(data) % line_bytes]
            assert fast_hex_lines(whole, 0xFFFFFFFF8211FFE0, flag) == format_memory(whole, 0xFFFFFFFF8211FFE0, flag)
