"""The process designer (role `process_designer`): the process library, drafts edited in the
browser (bpmn-js modeler with a side panel for Waypoint's settings, dmn-js tables, forms as JSON
with a live preview, scenarios), check, simulate, diff, deploy and migrate.

Views only call the engine: `engine.designer.drafts` (library, drafts, deploying, the deployment log),
`engine.designer.simulate`, `engine.designer.diff` and `engine.designer.move_instances`.
"""

from __future__ import annotations

from . import migration, views  # noqa: F401  (they register their routes on `bp`)
from .blueprint import bp

__all__ = ["bp"]
