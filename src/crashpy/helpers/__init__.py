"""crashpy.helpers layer (see ARCHITECTURE.md)."""
