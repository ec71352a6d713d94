"""The API blueprint (`api`): bearer-authenticated, CSRF-exempt, JSON errors."""

from __future__ import annotations

from flask import Blueprint

from . import problems

bp = Blueprint("api", __name__)
problems.register(bp)
