"""crashpy.helpers layer (see docs/architecture.md)."""
