"""Designer fixtures: source sets of the small test process with edits, and a signed-in web client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from engine.definitions import SourceSet, read_sources
from tests.conftest import FIXTURES, ROOT
from tests.web.conftest import Browser
from web import create_app

SMALL = FIXTURES / "small"
BPMN = ROOT / "bpmn"


def small(*edits: tuple[str, str]) -> SourceSet:
    """The small approval process with each (old, new) text replacement applied to its BPMN."""
    sources = read_sources([SMALL])
    text = sources.files["small_approval.bpmn"]
    for old, new in edits:
        assert old in text, f"fixture text not found: {old!r}"
        text = text.replace(old, new)
    sources.files["small_approval.bpmn"] = text
    return sources


def conference(**replace: tuple[str, str]) -> SourceSet:
    """The conference process's files with (old, new) replacements per file path."""
    sources = read_sources([BPMN / "conference_attendance.bpmn"])
    for path, (old, new) in replace.items():
        assert old in sources.files[path]
        sources.files[path] = sources.files[path].replace(old, new)
    return sources


@pytest.fixture
def designer_app(people, engine, tmp_path) -> Flask:
    """The app with the demo people and the small process deployed (version 1)."""
    with people.transaction() as s:
        engine.deploy(s, [SMALL], deployed_by="admin")
    return create_app(
        {"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path / "files")}
    )


@pytest.fixture
def as_user(designer_app: Flask) -> Callable[[str], Browser]:
    """`as_user("ddesigner")` → a signed-in client that sends the CSRF token."""
    return lambda username: Browser(designer_app).login(username)
