"""crashpy.arch layer (see docs/architecture.md)."""
