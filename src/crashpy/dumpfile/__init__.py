"""Dump-file readers behind one protocol (base.DumpFile), sniffed by content (open_dump)."""

from crashpy.dumpfile.base import DumpFile, DumpInfo, Note
from crashpy.dumpfile.sniff import is_dump, open_dump, sniff

__all__ = ["DumpFile", "DumpInfo", "Note", "is_dump", "open_dump", "sniff"]
