"""crashpy.cli layer (see ARCHITECTURE.md)."""
