"""crashpy.symbols layer (see ARCHITECTURE.md)."""
