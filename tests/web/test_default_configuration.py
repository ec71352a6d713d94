"""The configuration `make run` uses: no overrides, relative default folders, files up and down.

Every other web test hands the app an absolute ATTACHMENTS_DIR; this one sets nothing, runs from a
project-like working directory and uploads and downloads a file through the page and the API.
"""

from __future__ import annotations

import io
import re

import pytest

import workflows
from engine import Database, Engine, Settings
from engine.config import ensure_sqlite_directory
from engine.demo.people import seed_demo_users
from engine.people.api_tokens import create_token
from engine.people.users import find_user
from tests.conftest import FIXTURES
from tests.web.conftest import Browser
from tests.web.test_requests import PDF
from web import create_app


@pytest.fixture
def default_app(tmp_path, monkeypatch):
    """The app exactly as `make run` builds it: settings from the environment, defaults only."""
    for name in ("WAYPOINT_DATABASE_URL", "WAYPOINT_ATTACHMENTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env()
    assert settings.database_url == "sqlite:///instance/waypoint.db"
    ensure_sqlite_directory(settings.database_url)
    db = Database(settings.database_url)
    db.upgrade()
    engine = Engine.from_settings(settings, workflows.registry())
    with db.transaction() as s:
        seed_demo_users(s, engine.clock.now())
        engine.deploy(s, [FIXTURES / "small"])
    db.dispose()
    app = create_app()
    yield app
    app.extensions["waypoint.db"].dispose()


def test_files_go_up_and_come_back_in_the_default_configuration(default_app, tmp_path):
    db, engine = default_app.extensions["waypoint.db"], default_app.extensions["waypoint.engine"]
    assert default_app.extensions["waypoint.attachments"].root == tmp_path / "instance" / "attachments"
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Files", "amount": 5}, "jdoe").id
        token = create_token(s, find_user(s, "jdoe"), "default config", now=engine.clock.now()).secret
    jdoe = Browser(default_app).login("jdoe")
    upload = {"file": (io.BytesIO(PDF), "quote.pdf")}
    assert jdoe.post(f"/requests/{iid}/attachments", upload, content_type="multipart/form-data").status_code == 302
    link = re.search(r'href="(/attachments/(\d+))"', jdoe.get(f"/requests/{iid}").text)
    assert link is not None
    page = jdoe.get(link.group(1))
    assert (page.status_code, page.data) == (200, PDF)
    page.close()
    api = default_app.test_client().get(
        f"/api/v1/attachments/{link.group(2)}/content", headers={"Authorization": f"Bearer {token}"}
    )
    assert (api.status_code, api.data) == (200, PDF)
    api.close()
    assert (tmp_path / "instance" / "attachments").is_dir()


def test_the_attachments_folder_is_read_once_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).attachments_dir == tmp_path / "instance" / "attachments"
    chosen = Settings.from_env({"WAYPOINT_ATTACHMENTS_DIR": "files"}).attachments_dir
    assert chosen == tmp_path / "files" and chosen.is_absolute()


def test_a_file_attached_from_the_cli_is_served_by_the_page_in_the_default_configuration(default_app, tmp_path):
    """`waypoint start ... --attach FILE` from the folder `make run` serves (no settings overridden)
    stores the file where the page finds it."""
    from click.testing import CliRunner

    from cli import main

    (tmp_path / "quote.pdf").write_bytes(PDF)
    start = ["start", "small_approval", "--as", "jdoe", "--data", '{"title": "Chairs", "amount": 9}', "--json"]
    done = CliRunner().invoke(main, [*start, "--attach", "quote.pdf"])
    assert done.exit_code == 0, done.output
    iid = int(re.search(r'"instance_id": (\d+)', done.stdout).group(1))
    jdoe = Browser(default_app).login("jdoe")
    link = re.search(r'href="(/attachments/\d+)"', jdoe.get(f"/requests/{iid}").text)
    assert link is not None
    page = jdoe.get(link.group(1))
    assert (page.status_code, page.data) == (200, PDF)
    page.close()
