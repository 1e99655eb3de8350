"""Dump-file readers behind one protocol (base.DumpFile), sniffed by content (open_dump)."""
