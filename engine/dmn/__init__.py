"""DMN decisions: read DMN 1.1–1.5 files, evaluate their decisions, check them.

`load_models({"rules/a.dmn": root})` reads files into a `Decisions` set; `Decisions.evaluate(key,
data)` gives a decision's FEEL value, `Decisions.outputs(key, data)` what a business rule task
merges into its data. `check_dmn(path, root, names)` lists a file's findings for `waypoint check`.
Business rule tasks reach this engine through engine/dmn/spiff.py.
"""

from __future__ import annotations

from engine.dmn.check import check_dmn
from engine.dmn.decide import DecisionError, Decisions
from engine.dmn.model import Model
from engine.dmn.reader import DmnReadError, read_model

__all__ = ["DecisionError", "Decisions", "DmnReadError", "Model", "check_dmn", "read_model"]
