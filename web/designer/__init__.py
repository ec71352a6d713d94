"""The process designer (role `process_designer`): the process library, drafts edited in the
browser (bpmn-js modeler with a side panel for Waypoint's settings, dmn-js tables, forms as JSON
with a live preview, scenarios), check, simulate, diff, deploy and migrate.

Views only call the engine: `engine.designer.drafts` (library, drafts, deploying, the deployment log),
`engine.designer.simulate`, `engine.designer.diff` and `engine.designer.move_instances`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("designer", __name__, url_prefix="/designer")

from . import migration, views  # noqa: E402,F401  (the views register on `bp`)
