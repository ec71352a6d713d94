"""Per-process glue: script helpers, summary lines, validators and demo samplers of each process.

Nothing registers at import: the composition roots call `registry()` (or `register(glue)`)
and hand the filled `GlueRegistry` to the `Engine`.
"""

from engine.glue import GlueRegistry
from workflows import conference_attendance, delegation_visit, demo, passport_visa

MODULES = (conference_attendance, delegation_visit, demo, passport_visa)


def register(glue: GlueRegistry) -> GlueRegistry:
    """Register every process module's helpers, glue and samplers with `glue`, and return it."""
    for module in MODULES:
        module.register(glue)
    return glue


def registry() -> GlueRegistry:
    """A new registry holding all of `workflows/`."""
    return register(GlueRegistry())
