"""Real headless Chromium (Debian's /usr/bin/chromium) against a live Waypoint on 127.0.0.1.

One server per test session on a migrated SQLite file with the demo people (real passwords),
the three processes deployed and a manual clock the tests move. Each test gets a fresh browser
context (no shared cookies). Screenshots for review go to tests/artifacts/ (git-ignored).
Tests whose deployments must stay theirs get a server of their own from `live_server`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine import Database, Engine, ManualClock
from engine.demo.people import DEMO_PASSWORD, seed_demo_users
from tests.browser.walking import Walk
from tests.conftest import CHROMIUM, LAUNCH_ARGS, make_engine  # noqa: F401  (others import them from here)
from web import create_app

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = pytest.mark.browser


class Live:
    """The running server and the handles tests use to move time and fire timers."""

    def __init__(self, url: str, db: Database, engine: Engine, clock: ManualClock):
        self.url, self.db, self.engine, self.clock = url, db, engine, clock

    def fire_due_timers(self) -> int:
        fired = 0
        with self.db.transaction() as s:
            due = [t.id for t in self.engine.due_timers(s, limit=1000)]
        for timer_id in due:
            with self.db.transaction() as s:
                fired += self.engine.fire_timer(s, timer_id)
        return fired


@contextmanager
def start_live(folder: Path, sources: Sequence[Path], deployed_by: str | None = None) -> Iterator[Live]:
    """A live Waypoint on 127.0.0.1 for as long as the block runs: a migrated SQLite file in `folder`,
    the demo people (real passwords), the processes of `sources` deployed, a manual clock."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium (as root)")
    db = Database(f"sqlite:///{folder / 'waypoint.db'}")
    db.upgrade()
    clock = ManualClock()
    engine = make_engine(clock=clock)
    with db.transaction() as s:
        seed_demo_users(s, clock.now(), password=DEMO_PASSWORD)
        engine.deploy(s, sources, deployed_by=deployed_by)
    app = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "ATTACHMENTS_DIR": str(folder / "files")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", db, engine, clock)
    finally:
        server.shutdown()
        db.dispose()


def live_server(folder: str, sources: Sequence[Path], deployed_by: str | None = None, scope: str = "module"):  # type: ignore[no-untyped-def]
    """A fixture of a server of its own (`start_live`), for tests whose deployments must stay theirs:
    `studio = live_server("studio", [ROOT / "bpmn"], deployed_by="admin")` in the test module."""

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
        with start_live(tmp_path_factory.mktemp(folder), sources, deployed_by) as server:
            yield server

    return fixture


#: the server most browser tests share, one per session, with the three processes of bpmn/
live = live_server("live", [ROOT / "bpmn"], scope="session")


@pytest.fixture
def open_page(chromium, live):  # type: ignore[no-untyped-def]
    """`open_page("jdoe")` → a signed-in page in its own browser context."""
    contexts = []

    def opener(username: str, width: int = 1280):  # type: ignore[no-untyped-def]
        context = chromium.new_context(viewport={"width": width, "height": 900}, locale="en-CA")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live.url}/login")
        page.fill("#username", username)
        page.fill("#password", DEMO_PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{live.url}/inbox")
        return page

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture
def walk(open_page, live):  # type: ignore[no-untyped-def]
    """A walk (tests/browser/walking.py); afterwards the shared server's clock goes back to where it
    was, as the other browser tests (in any order) file requests with dates fixed against it."""
    before = live.clock.now()
    yield Walk(open_page, live)
    live.clock.set(before)


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
