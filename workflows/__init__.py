"""Per-process glue: importing this package registers every process module with `engine.glue.glue`."""

from workflows import conference_attendance, delegation_visit, demo, passport_visa

__all__ = ["conference_attendance", "delegation_visit", "demo", "passport_visa"]
