"""Waypoint's parser layer over SpiffWorkflow's: what the library is given to parse.

The library refuses some standard BPMN (engine/parsing/standard.py) and reads expressions as
Python only (engine/parsing/languages.py). `prepare_bpmn` hands it a rewritten copy of a file's tree
with the same meaning; the original tree is what checks and error messages refer to.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from engine.parsing.languages import translate_expressions
from engine.parsing.standard import rewrite


def prepare_bpmn(root: Any) -> Any:
    """The BPMN tree SpiffWorkflow parses for `root`: `root` itself when nothing needs rewriting."""
    copy = deepcopy(root)
    return copy if rewrite(copy) + translate_expressions(copy) else root
