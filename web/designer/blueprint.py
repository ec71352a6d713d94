"""The designer's blueprint: views.py and migration.py register their routes on it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("designer", __name__, url_prefix="/designer")
