"""Security fixtures: the reliability process and people (tests/reliability/conftest.py)."""

from __future__ import annotations

from tests.reliability.conftest import flow_db, web_app  # noqa: F401  (fixtures, re-exported)
